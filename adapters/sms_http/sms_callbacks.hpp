#pragma once
// What the gateway calls back with: delivery reports and inbound SMS, as a form body, a JSON body
// (an object, or an array of objects for gateways that push reports in batches) or the query
// string; and whether the call is the gateway's (a token or an HMAC of the body).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sms_http_settings.hpp"
#include "villagebot/http.hpp"

namespace villagebot::adapters::sms_http {

struct CallbackFields {
  nlohmann::json object = nullptr;  // a JSON body (an object), or null
  std::map<std::string, std::string> form;
  std::map<std::string, std::string> query;
  // A field: from the JSON body (a top-level key, or a pointer "/data/msgid"), else the form body,
  // else the query. Strings as they are, numbers as JSON writes them.
  [[nodiscard]] std::optional<std::string> get(const std::string& field) const;
};

// One entry per report or message in the request (several for a JSON array); empty with `error`
// set for a body that is not what it says (bad JSON, invalid UTF-8).
std::vector<CallbackFields> callback_fields(const HttpRequest& request, std::string& error);

// A token in the configured header (a leading "Bearer " ignored) or query parameter, or
// HMAC-SHA256(secret, raw body — the query string for a bodiless GET) in the configured header,
// as hex (a leading "sha256=" ignored) or base64; compared in constant time.
bool callback_authentic(const SmsHttpSettings& settings, const HttpRequest& request);

// The payload an HMAC-signed callback signs: what a gateway (or a test) must sign.
std::string signed_payload(const HttpRequest& request);

}  // namespace villagebot::adapters::sms_http
