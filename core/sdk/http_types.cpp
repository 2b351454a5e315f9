#include "villagebot/http.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <utility>

#include "villagebot/text.hpp"

namespace villagebot {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded: '+' is a space, %XX a byte. A malformed
// escape is kept literally rather than rejected: a query parameter is input
// to validate later, not a reason to fail the whole request here.
std::string form_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>((hex_value(s[i + 1]) << 4) | hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// A JSON string's contents as nlohmann::json writes them; false when `s` is
// not valid UTF-8 (nlohmann then replaces what is broken).
bool append_escaped(std::string& out, std::string_view s) {
  if (!text::valid_utf8(s)) return false;
  text::append_json_escaped(out, s);
  return true;
}

// The same text as nlohmann::json's dump() for a document whose strings are
// all valid UTF-8, several times faster on long Chinese replies (dump()
// decodes every byte). False when a string is not valid UTF-8.
bool append_json(std::string& out, const nlohmann::json& j) {
  using value_t = nlohmann::json::value_t;
  switch (j.type()) {
    case value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, value] : j.get_ref<const nlohmann::json::object_t&>()) {
        if (!first) out += ',';
        first = false;
        out += '"';
        if (!append_escaped(out, key)) return false;
        out += "\":";
        if (!append_json(out, value)) return false;
      }
      out += '}';
      return true;
    }
    case value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& value : j.get_ref<const nlohmann::json::array_t&>()) {
        if (!first) out += ',';
        first = false;
        if (!append_json(out, value)) return false;
      }
      out += ']';
      return true;
    }
    case value_t::string:
      out += '"';
      if (!append_escaped(out, j.get_ref<const nlohmann::json::string_t&>())) return false;
      out += '"';
      return true;
    case value_t::boolean:
      out += j.get<bool>() ? "true" : "false";
      return true;
    case value_t::null:
      out += "null";
      return true;
    case value_t::number_integer:
    case value_t::number_unsigned:
    case value_t::number_float:
      out += j.dump();
      return true;
    default:  // binary, discarded: not in a response
      return false;
  }
}

// Invalid UTF-8 from a client (or a plugin) is replaced, never thrown.
std::string dump(const nlohmann::json& body) {
  std::string out;
  if (append_json(out, body)) return out;
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string HttpRequest::header(std::string_view name) const {
  const auto it = headers.find(text::ascii_lower(name));
  return it == headers.end() ? std::string() : it->second;
}

std::string HttpRequest::query_param(std::string_view name) const {
  std::string_view rest = query;
  if (rest.starts_with('?')) rest.remove_prefix(1);
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    if (form_decode(pair.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? std::string() : form_decode(pair.substr(eq + 1));
    }
  }
  return {};
}

std::string HttpRequest::path_param(std::string_view name) const {
  const auto it = path_params.find(std::string(name));
  return it == path_params.end() ? std::string() : it->second;
}

HttpResponse HttpResponse::json(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = dump(body);
  return r;
}

HttpResponse HttpResponse::error(int status, std::string_view code, std::string_view message) {
  const nlohmann::json body = {{"error", {{"code", std::string(code)}, {"message", std::string(message)}}}};
  return json(status, body);
}

HttpResponse HttpResponse::text(int status, std::string body, std::string content_type) {
  HttpResponse r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

}  // namespace villagebot
