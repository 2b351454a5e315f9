#include "twilio_signature.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "chat_crypto.hpp"
#include "villagebot/crypto.hpp"

namespace villagebot::adapters::twilio {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> decode_component(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_digit(s[i + 1]);
      const int lo = hex_digit(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// scheme://authority/rest split at the authority, or nothing for a URL without "://".
struct UrlParts {
  std::string scheme;
  std::string host;  // without the port
  std::string port;  // "" when none is written
  std::string rest;  // path, query and fragment
};

std::optional<UrlParts> split_url(std::string_view url) {
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  UrlParts p;
  p.scheme = std::string(url.substr(0, sep));
  const std::size_t start = sep + 3;
  const auto end = url.find_first_of("/?#", start);
  std::string_view authority = url.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
  p.rest = end == std::string_view::npos ? std::string() : std::string(url.substr(end));
  // The port follows the last ':' unless that ':' is inside an IPv6 literal ([::1]).
  const auto colon = authority.rfind(':');
  const auto bracket = authority.rfind(']');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    p.host = std::string(authority.substr(0, colon));
    p.port = std::string(authority.substr(colon + 1));
  } else {
    p.host = std::string(authority);
  }
  return p;
}

}  // namespace

std::string signing_string(std::string_view url, const Params& params) {
  // Names sorted; each name's values de-duplicated and sorted; the name before every value.
  std::map<std::string, std::set<std::string>> sorted;
  for (const auto& [name, value] : params) sorted[name].insert(value);
  std::string out(url);
  for (const auto& [name, values] : sorted)
    for (const auto& value : values) {
      out += name;
      out += value;
    }
  return out;
}

std::string compute_signature(std::string_view auth_token, std::string_view url, const Params& params) {
  return crypto::base64_encode(crypto::hmac_sha1(auth_token, signing_string(url, params)));
}

std::vector<std::string> url_variants(std::string_view url) {
  std::vector<std::string> out{std::string(url)};
  const auto parts = split_url(url);
  if (!parts) return out;
  std::string default_port;
  if (parts->scheme == "https") default_port = "443";
  if (parts->scheme == "http") default_port = "80";
  if (default_port.empty()) return out;
  if (parts->port.empty())
    out.push_back(parts->scheme + "://" + parts->host + ":" + default_port + parts->rest);
  else if (parts->port == default_port)
    out.push_back(parts->scheme + "://" + parts->host + parts->rest);
  return out;
}

bool validate(std::string_view auth_token, std::string_view url, const Params& params, std::string_view signature) {
  if (signature.empty() || auth_token.empty()) return false;
  bool ok = false;
  // Every variant is computed and compared, so the time taken does not say which one matched.
  for (const auto& candidate : url_variants(url))
    ok = crypto::constant_time_equal(compute_signature(auth_token, candidate, params), signature) || ok;
  return ok;
}

bool validate_body(std::string_view auth_token, std::string_view url, std::string_view body,
                   std::string_view signature) {
  const auto hash = query_value(url, "bodySHA256");
  if (!hash) return false;
  const bool body_ok = crypto::constant_time_equal(crypto::sha256_hex(body), *hash);
  const bool signature_ok = validate(auth_token, url, {}, signature);
  return body_ok && signature_ok;
}

std::optional<Params> parse_form(std::string_view body) {
  Params out;
  std::size_t pos = 0;
  while (pos <= body.size()) {
    auto amp = body.find('&', pos);
    if (amp == std::string_view::npos) amp = body.size();
    const std::string_view pair = body.substr(pos, amp - pos);
    pos = amp + 1;
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto name = decode_component(pair.substr(0, eq));
    auto value = eq == std::string_view::npos ? std::optional<std::string>("") : decode_component(pair.substr(eq + 1));
    if (!name || !value) return std::nullopt;
    out.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

std::string encode_form(const Params& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += url_encode(name);
    out += '=';
    out += url_encode(value);
  }
  return out;
}

std::optional<std::string> query_value(std::string_view url, std::string_view name) {
  const auto q = url.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = url.substr(q + 1);
  if (const auto hash = query.find('#'); hash != std::string_view::npos) query = query.substr(0, hash);
  const auto params = parse_form(query);
  if (!params) return std::nullopt;
  for (const auto& [n, v] : *params)
    if (n == name) return v;
  return std::nullopt;
}

std::string param(const Params& params, std::string_view name) {
  for (const auto& [n, v] : params)
    if (n == name) return v;
  return {};
}

}  // namespace villagebot::adapters::twilio
