// Fuzz target: the Slack Events API (adapters/slack, adapters/common/chat_crypto): the JSON event
// (url_verification, message events), X-Slack-Signature with X-Slack-Request-Timestamp, and the
// Web API's answers. Input: a mode byte ('0'…'2'), then fields separated by 0x1F.
//   0  body: an event request's JSON (never throws; a malformed body is an error)
//   1  timestamp, signature, body: a request checked with the fixed signing secret
//   2  HTTP status, body, Retry-After: an answer of chat.postMessage or an incoming webhook
// Invariants: a parsed message has a sender and an id and is valid UTF-8, a chat when it is a
// group's, no leading blank; a request passes only with slack_signature(secret, timestamp, body) and
// a timestamp within five minutes, and a correctly signed fresh one always passes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat_crypto.hpp"
#include "slack.hpp"
#include "villagebot/text.hpp"

#include "fuzz_support.hpp"

namespace {

using villagebot::fuzz::check;
using villagebot::fuzz::split;
using villagebot::fuzz::status_of;

using namespace villagebot;
using namespace villagebot::adapters;

constexpr std::int64_t kNow = 1531420700;  // shortly after Slack's published example
constexpr const char* kSigningSecret = "8f742231b10e8888abcd99yyyzzz85a5";

// Seconds as the check takes them: 1 to 15 digits, within five minutes of now.
bool fresh(const std::string& timestamp) {
  if (timestamp.empty() || timestamp.size() > 15 || timestamp.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const std::int64_t v = std::stoll(timestamp);
  return v >= kNow - 300 && v <= kNow + 300;
}

void event(const std::string& body) {
  std::string error;
  const auto e = slack_parse_event(body, error);
  if (!e) {
    check(!error.empty());
    return;
  }
  check(!(e->message && !e->challenge.empty()));
  check(text::valid_utf8(e->challenge));
  if (!e->message) return;
  const InboundMessage& m = *e->message;
  check(!m.sender.empty() && !m.message_id.empty());
  check(m.identity_kind == "slack");
  check(text::valid_utf8(m.sender) && text::valid_utf8(m.message_id) && text::valid_utf8(m.text) &&
        text::valid_utf8(m.chat_id));
  check((m.channel == ChannelKind::group) == !m.chat_id.empty());
  check(m.text.empty() || m.text[0] != ' ');
}

void signature(const std::string& timestamp, const std::string& sig, const std::string& body) {
  if (slack_request_valid(kSigningSecret, timestamp, body, sig, kNow))
    check(fresh(timestamp) && sig == slack_signature(kSigningSecret, timestamp, body));
  const std::string ts = timestamp.empty() ? std::to_string(kNow) : timestamp;
  const std::string good = slack_signature(kSigningSecret, ts, body);
  check(slack_request_valid(kSigningSecret, ts, body, good, kNow) == fresh(ts));
  check(!slack_request_valid(kSigningSecret, ts, body + "x", good, kNow));
  check(!slack_request_valid("another secret", ts, body, good, kNow));
  check(!slack_request_valid("", ts, body, sig, kNow));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned mode = static_cast<unsigned char>(data[0] - '0') % 3;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (mode == 0) {
    event(std::string(rest));
  } else if (mode == 1) {
    const auto f = split(rest, 3);
    signature(f[0], f[1], f[2]);
  } else {
    const auto f = split(rest, 3);
    ClientResponse response;
    response.status = status_of(f[0]);
    response.body = f[1];
    if (!f[2].empty()) response.headers.emplace_back("Retry-After", f[2]);
    for (const bool webhook : {false, true}) {
      const auto result = slack_result(response, webhook);
      check(result.retry_after_s >= 0);
      if (result.status == SendResult::Status::sent) check(response.status == 200);
    }
  }
  return 0;
}
