// Fuzz target: Telegram webhook updates (adapters/telegram, adapters/common/chat_crypto): the
// Update JSON, the X-Telegram-Bot-Api-Secret-Token check, and the Bot API's answers.
// Input: a mode byte ('0'…'2'), then fields separated by 0x1F.
//   0  body: an Update (never throws; a malformed one is an error, other updates are nothing)
//   1  header: the secret token header, compared with the fixed secret
//   2  HTTP status, body: an answer of sendMessage
// Invariants: a parsed message has a sender and an id (chat:message) and is valid UTF-8, a chat
// when it is a group's; a bot's message is never submitted; only the configured secret passes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat_crypto.hpp"
#include "telegram.hpp"
#include "villagebot/text.hpp"

#include "fuzz_support.hpp"

namespace {

using villagebot::fuzz::check;
using villagebot::fuzz::split;
using villagebot::fuzz::status_of;

using namespace villagebot;
using namespace villagebot::adapters;
using nlohmann::json;

constexpr const char* kSecret = "tg-webhook-secret_0123";

void update(const std::string& body) {
  std::string error;
  const auto m = telegram_parse_update(body, error);
  if (!m) return;  // an error, or an update that is not a person's text
  check(error.empty());
  check(!m->sender.empty() && !m->message_id.empty());
  check(m->identity_kind == "telegram");
  check(text::valid_utf8(m->sender) && text::valid_utf8(m->message_id) && text::valid_utf8(m->text) &&
        text::valid_utf8(m->chat_id));
  check((m->channel == ChannelKind::group) == !m->chat_id.empty());
  // Never a bot's own message (a group echoes the bot's posts).
  const json u = json::parse(body, nullptr, false);
  check(u.is_object() && u.contains("message") && u["message"].is_object());
  const json& from = u["message"]["from"];
  check(!(from.contains("is_bot") && from["is_bot"].is_boolean() && from["is_bot"].get<bool>()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned mode = static_cast<unsigned char>(data[0] - '0') % 3;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (mode == 0) {
    update(std::string(rest));
  } else if (mode == 1) {
    check(telegram_secret_valid(kSecret, rest) == (rest == kSecret));
    check(!telegram_secret_valid("", rest));
  } else {
    const auto f = split(rest, 2);
    ClientResponse response;
    response.status = status_of(f[0]);
    response.body = f[1];
    const auto result = telegram_result(response);
    if (result.status == SendResult::Status::sent) check(response.status == 200);
    check(text::valid_utf8(result.provider_id));
  }
  return 0;
}
