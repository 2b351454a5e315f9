// Fuzz target: the DingTalk (钉钉) outgoing robot's callback (adapters/dingtalk, adapters/common/
// chat_crypto): the JSON body, the `timestamp` and `sign` headers, and DingTalk's API answers.
// Input: a mode byte ('0'…'2'), then fields separated by 0x1F.
//   0  body: the callback's JSON (never throws; a malformed body is an error, not an exception)
//   1  timestamp, sign: the headers, checked with the fixed app secret
//   2  HTTP status, body: an answer of the robot API
// Invariants: a parsed message has a sender, an id and valid UTF-8, a chat when it is a group's, no
// leading blanks; a refused body says why; a callback passes only with dingtalk_sign(secret,
// timestamp) and a timestamp within an hour, and a correctly signed fresh one always passes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat_crypto.hpp"
#include "dingtalk.hpp"
#include "villagebot/text.hpp"

#include "fuzz_support.hpp"

namespace {

using villagebot::fuzz::check;
using villagebot::fuzz::split;
using villagebot::fuzz::status_of;

using namespace villagebot;
using namespace villagebot::adapters;

constexpr std::int64_t kNowMs = 1577262240000;  // shortly after the published example's timestamp
constexpr const char* kAppSecret = "SECtest";

// Milliseconds as the check takes them: 1 to 15 digits, within an hour of now.
bool fresh(const std::string& timestamp) {
  if (timestamp.empty() || timestamp.size() > 15 || timestamp.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const std::int64_t v = std::stoll(timestamp);
  return v >= kNowMs - 3600 * 1000 && v <= kNowMs + 3600 * 1000;
}

void callback(const std::string& body) {
  std::string error;
  const auto inbound = dingtalk_parse_callback(body, error);
  if (!inbound) {
    check(!error.empty());
    return;
  }
  const InboundMessage& m = inbound->message;
  check(!m.sender.empty() && !m.message_id.empty());
  check(m.identity_kind == "dingtalk");
  check(text::valid_utf8(m.sender) && text::valid_utf8(m.message_id) && text::valid_utf8(m.text) &&
        text::valid_utf8(m.chat_id) && text::valid_utf8(inbound->session_webhook));
  check((m.channel == ChannelKind::group) == !m.chat_id.empty());
  check(m.text.empty() || m.text.find_first_of(" \t\r\n") != 0);
}

void signature(const std::string& timestamp, const std::string& sign) {
  if (dingtalk_callback_valid(kAppSecret, timestamp, sign, kNowMs))
    check(fresh(timestamp) && sign == dingtalk_sign(kAppSecret, timestamp));
  const std::string ts = timestamp.empty() ? std::to_string(kNowMs) : timestamp;
  const std::string good = dingtalk_sign(kAppSecret, ts);
  check(dingtalk_callback_valid(kAppSecret, ts, good, kNowMs) == fresh(ts));
  check(!dingtalk_callback_valid("another-secret", ts, good, kNowMs));
  check(!dingtalk_callback_valid("", ts, sign, kNowMs));
  check(!dingtalk_callback_valid(kAppSecret, ts, good + "=", kNowMs));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned mode = static_cast<unsigned char>(data[0] - '0') % 3;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (mode == 0) {
    callback(std::string(rest));
  } else if (mode == 1) {
    const auto f = split(rest, 2);
    signature(f[0], f[1]);
  } else {
    const auto f = split(rest, 2);
    ClientResponse response;
    response.status = status_of(f[0]);
    response.body = f[1];
    const auto result = dingtalk_result(response, 60);
    check(result.retry_after_s >= 0);
    if (result.status == SendResult::Status::sent) check(response.status == 200);
  }
  return 0;
}
