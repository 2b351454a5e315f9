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
// set for a body that is not what it says (bad JSON, invalid UTF-8). `with_query` false: the
// query's fields are left out (query_trusted() says when).
std::vector<CallbackFields> callback_fields(const HttpRequest& request, std::string& error, bool with_query);

// A token in the configured header (a leading "Bearer " ignored) or query parameter, or
// HMAC-SHA256(secret, signed_payload()) in the configured header, as hex (a leading "sha256="
// ignored) or base64; compared in constant time.
bool callback_authentic(const SmsHttpSettings& settings, const HttpRequest& request);

// The payload an HMAC-signed callback signs: the raw body, or the query string when the body is
// empty, whatever the method (a bodiless POST signed over "" would carry the same signature on
// every request, ready to be replayed with a forged query).
std::string signed_payload(const HttpRequest& request);

// Whether fields may be read from the query: not with auth = "hmac" and a body, where the query is
// not what was signed.
bool query_trusted(const SmsHttpSettings& settings, const HttpRequest& request);

}  // namespace villagebot::adapters::sms_http
