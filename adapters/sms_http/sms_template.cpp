#include "sms_template.hpp"

#include <algorithm>

#include "villagebot/text.hpp"

namespace villagebot::adapters::sms_http {

namespace {

std::string trim_spaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string form_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

const std::vector<std::string>& template_variables() {
  static const std::vector<std::string> names{"to", "to_national", "text", "id", "from", "part", "parts"};
  return names;
}

std::optional<Template> Template::parse(std::string_view source, std::string& error) {
  Template t;
  std::size_t pos = 0;
  while (pos < source.size()) {
    const std::size_t open = source.find("{{", pos);
    if (open == std::string_view::npos) {
      t.pieces_.push_back({false, std::string(source.substr(pos))});
      break;
    }
    if (open > pos) t.pieces_.push_back({false, std::string(source.substr(pos, open - pos))});
    const std::size_t close = source.find("}}", open + 2);
    if (close == std::string_view::npos) {
      error = "'{{' without its '}}'";
      return std::nullopt;
    }
    std::string name = trim_spaces(source.substr(open + 2, close - open - 2));
    const auto& known = template_variables();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      error = "unknown variable {{" + name + "}} (known: {{to}} {{to_national}} {{text}} {{id}} {{from}} " +
              "{{part}} {{parts}})";
      return std::nullopt;
    }
    t.pieces_.push_back({true, std::move(name)});
    pos = close + 2;
  }
  return t;
}

std::string Template::render(const TemplateValues& values, Escape escape) const {
  std::string out;
  for (const auto& p : pieces_) {
    if (!p.variable) {
      out += p.text;
      continue;
    }
    const auto it = values.find(p.text);
    const std::string_view v = it == values.end() ? std::string_view() : std::string_view(it->second);
    switch (escape) {
      case Escape::url:
        out += url_encode(v);
        break;
      case Escape::json:
        out += json_escape(v);
        break;
      case Escape::raw:
        out += v;
        break;
    }
  }
  return out;
}

bool Template::uses(std::string_view variable) const {
  return std::any_of(pieces_.begin(), pieces_.end(), [&](const Piece& p) { return p.variable && p.text == variable; });
}

std::string json_escape(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 8);
  text::append_json_escaped(out, value);
  return out;
}

std::map<std::string, std::string> parse_form(std::string_view body) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while (pos <= body.size()) {
    std::size_t amp = body.find('&', pos);
    if (amp == std::string_view::npos) amp = body.size();
    const std::string_view pair = body.substr(pos, amp - pos);
    if (!pair.empty()) {
      const std::size_t eq = pair.find('=');
      std::string name = form_decode(pair.substr(0, eq));
      std::string value = eq == std::string_view::npos ? std::string() : form_decode(pair.substr(eq + 1));
      out.emplace(std::move(name), std::move(value));
    }
    pos = amp + 1;
  }
  return out;
}

}  // namespace villagebot::adapters::sms_http
