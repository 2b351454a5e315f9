#pragma once
// Twilio's request validation, as pure functions (tested against Twilio's published examples in
// tests/adapters/vectors/signatures.json, twilio_request_validation).
//
//   X-Twilio-Signature = Base64(HMAC-SHA1(auth token, full URL + for each POST parameter name in
//                        sorted order, for each of its values de-duplicated and sorted: name + value))
//
// The full URL is the one Twilio requested, query string included. A JSON-bodied request carries
// bodySHA256=<hex SHA-256 of the raw body> in its query: the signature covers the URL alone and the
// body is checked against that hash. Twilio's own validators accept the URL with or without the
// scheme's default port (Twilio has signed both forms over the years), so both are tried.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace villagebot::adapters::twilio {

// Form parameters in the order received; a name may repeat.
using Params = std::vector<std::pair<std::string, std::string>>;

// The string that is signed: url + name/value pairs as described above.
std::string signing_string(std::string_view url, const Params& params);
// Base64 of HMAC-SHA1(auth_token, signing_string(url, params)).
std::string compute_signature(std::string_view auth_token, std::string_view url, const Params& params);

// The URL as given, and the same URL with its scheme's default port added (none written) or
// removed (the default written). A non-default port is kept: it is part of the address.
std::vector<std::string> url_variants(std::string_view url);

// A form-encoded request: true when `signature` matches any URL variant (constant-time compare).
bool validate(std::string_view auth_token, std::string_view url, const Params& params, std::string_view signature);
// A JSON-bodied request: the URL must carry bodySHA256 equal to hex(SHA-256(body)), and the
// signature must match the URL alone.
bool validate_body(std::string_view auth_token, std::string_view url, std::string_view body,
                   std::string_view signature);

// application/x-www-form-urlencoded: '+' is a space, %XX a byte. nullopt for a bad escape.
std::optional<Params> parse_form(std::string_view body);
// Percent-encodes every byte but A-Z a-z 0-9 - . _ ~ (Twilio decodes %20 and '+' alike).
std::string encode_form(const Params& params);
// The first value of `name` in a URL's query (percent-decoded), or nothing.
std::optional<std::string> query_value(std::string_view url, std::string_view name);
// The first value of `name`, or "".
std::string param(const Params& params, std::string_view name);

}  // namespace villagebot::adapters::twilio
