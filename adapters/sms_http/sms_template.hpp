#pragma once
// The templates of the sms-http adapter: text with {{variable}} slots and nothing else (no
// conditions, no code), parsed once at configure time so that an unknown variable is a config
// error, and filled in per request with every value escaped for the place it lands in.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat_crypto.hpp"

namespace villagebot::adapters::sms_http {

// How a value is written where it lands: percent-encoded (a URL, a form body, a header),
// as the inside of a JSON string (a JSON body: the template writes the quotes), or as it is.
enum class Escape { url, json, raw };

// to, to_national, text, id, from, part, parts.
const std::vector<std::string>& template_variables();

using TemplateValues = std::map<std::string, std::string, std::less<>>;

class Template {
 public:
  // nullopt with `error` set for an unknown variable or an unclosed {{.
  static std::optional<Template> parse(std::string_view source, std::string& error);
  [[nodiscard]] std::string render(const TemplateValues& values, Escape escape) const;
  [[nodiscard]] bool empty() const { return pieces_.empty(); }
  [[nodiscard]] bool uses(std::string_view variable) const;

 private:
  struct Piece {
    bool variable = false;
    std::string text;  // the literal text, or the variable's name
  };
  std::vector<Piece> pieces_;
};

// Percent-encoding (RFC 3986 unreserved characters kept) is the shared one of adapters/common.
using adapters::url_encode;
// The inside of a JSON string: quote, backslash and control characters escaped, UTF-8 kept.
std::string json_escape(std::string_view value);
// application/x-www-form-urlencoded (and query strings): '+' is a space, %XX a byte. Later
// duplicates of a name are ignored.
std::map<std::string, std::string> parse_form(std::string_view body);

}  // namespace villagebot::adapters::sms_http
