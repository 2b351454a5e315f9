// Fuzz target: the generic webhook (PRODUCT.md §5, adapters/generic_webhook): the JSON body
// {"message_id","sender","text"[,"chat"]} and the HMAC signature over "timestamp.body".
// Input: body, then optionally 0x1F, X-Villagebot-Timestamp, 0x1F, X-Villagebot-Signature.
// Invariants: a parsed message has a message id and a sender, is valid UTF-8, is a group message
// exactly when it names a chat; a refused body says why; the parse (a SAX pass) agrees with one
// through a JSON tree, field for field and error for error; a request passes the signature check only
// with sign_generic(secret, timestamp, body) and a timestamp within max_skew_s; a body signed with
// the secret at a fresh time always passes, and no other body passes with that signature.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "../../../adapters/generic_webhook/generic_webhook.hpp"
#include "villagebot/text.hpp"

#include "fuzz_support.hpp"

namespace {

using villagebot::fuzz::check;
using villagebot::fuzz::split;

using namespace villagebot;
using namespace villagebot::adapters;

constexpr std::int64_t kNow = 1732838400;
constexpr const char* kSecret = "generic-webhook-secret";

HttpRequest request(const std::string& body, const std::string& timestamp, const std::string& signature) {
  HttpRequest r;
  r.method = "POST";
  r.body = body;
  if (!timestamp.empty()) r.headers["x-villagebot-timestamp"] = timestamp;
  if (!signature.empty()) r.headers["x-villagebot-signature"] = signature;
  return r;
}

// Unix seconds as the check reads them: an optional '-' and digits, within the skew.
bool fresh(const std::string& timestamp, std::int64_t skew) {
  const bool negative = timestamp.starts_with('-');
  std::string digits = timestamp.substr(negative ? 1 : 0);
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return false;
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size()));
  if (digits.size() > 18) return false;  // far from now, if it fits at all
  const std::int64_t v = digits.empty() ? 0 : std::stoll(digits) * (negative ? -1 : 1);
  return v >= kNow - skew && v <= kNow + skew;
}

// The body read through a JSON tree, the obvious way: what parse_generic must agree with.
std::optional<InboundMessage> tree_parse(const std::string& body, std::string& error) {
  const auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded()) {
    error = "the body is not valid JSON";
    return std::nullopt;
  }
  if (!doc.is_object()) {
    error = "the body must be a JSON object";
    return std::nullopt;
  }
  auto field = [&](const char* name, bool required, std::string& out) {
    auto it = doc.find(name);
    if (it == doc.end() || it->is_null()) {
      if (required) error = std::string("\"") + name + "\" is required";
      return !required;
    }
    if (!it->is_string()) {
      error = std::string("\"") + name + "\" must be a string";
      return false;
    }
    out = it->get<std::string>();
    if (required && out.empty()) {
      error = std::string("\"") + name + "\" must not be empty";
      return false;
    }
    return true;
  };
  InboundMessage m;
  if (!field("message_id", true, m.message_id) || !field("sender", true, m.sender) || !field("text", false, m.text) ||
      !field("chat", false, m.chat_id))
    return std::nullopt;
  if (!doc.contains("text")) {
    error = "\"text\" is required";
    return std::nullopt;
  }
  m.channel = m.chat_id.empty() ? ChannelKind::personal : ChannelKind::group;
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto f = split(std::string_view(reinterpret_cast<const char*>(data), size), 3);
  const std::string& body = f[0];

  std::string error;
  const auto message = parse_generic(body, error);
  if (message) {
    check(!message->message_id.empty() && !message->sender.empty());
    check(text::valid_utf8(message->message_id) && text::valid_utf8(message->sender) &&
          text::valid_utf8(message->text) && text::valid_utf8(message->chat_id));
    check((message->channel == ChannelKind::group) == !message->chat_id.empty());
  } else {
    check(!error.empty());
  }
  std::string tree_error;
  const auto tree = tree_parse(body, tree_error);
  check(message.has_value() == tree.has_value());
  check(error == tree_error);
  if (message && tree)
    check(message->message_id == tree->message_id && message->sender == tree->sender && message->text == tree->text &&
          message->chat_id == tree->chat_id && message->channel == tree->channel);

  GenericWebhookSettings settings;
  settings.secret = kSecret;
  // The headers as given: passing means the signature is the secret's over this body at a fresh time.
  if (!verify_generic(settings, request(body, f[1], f[2]), kNow)) {
    check(f[2] == sign_generic(kSecret, f[1], body));
    check(fresh(f[1], settings.max_skew_s));
  }
  // Signed with the secret: passes at a fresh time, never with another body or a stale time.
  const std::string timestamp = f[1].empty() ? std::to_string(kNow) : f[1];
  const std::string signature = sign_generic(kSecret, timestamp, body);
  check(verify_generic(settings, request(body, timestamp, signature), kNow).has_value() != fresh(timestamp, 300));
  check(verify_generic(settings, request(body + " ", timestamp, signature), kNow).has_value());
  check(verify_generic(
            settings,
            request(body, std::to_string(kNow - 301), sign_generic(kSecret, std::to_string(kNow - 301), body)), kNow)
            .has_value());
  GenericWebhookSettings other;
  other.secret = "another-secret";
  check(verify_generic(other, request(body, timestamp, signature), kNow).has_value());
  // Without a secret nothing is checked.
  check(!verify_generic(GenericWebhookSettings{}, request(body, f[1], f[2]), kNow).has_value());
  return 0;
}
