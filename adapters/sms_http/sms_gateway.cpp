#include "sms_gateway.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <regex>

#include <nlohmann/json.hpp>

#include "villagebot/sms.hpp"
#include "villagebot/text.hpp"

namespace villagebot::adapters::sms_http {

namespace {

using nlohmann::json;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// A JSON value as the text a config compares with: strings as they are, numbers and booleans as
// JSON writes them ("0", "true").
std::string scalar_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::optional<std::string> at_pointer(const std::string& body, const std::string& pointer) {
  const json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded()) return std::nullopt;
  const json::json_pointer p(pointer);
  if (!doc.contains(p)) return std::nullopt;
  return scalar_text(doc.at(p));
}

int retry_after_s(const ClientResponse& response) {
  for (const auto& [name, value] : response.headers) {
    if (!iequals(name, "Retry-After")) continue;
    const std::string v = text::trim(value);
    if (v.empty() || v.size() > 6 || v.find_first_not_of("0123456789") != std::string::npos) return 0;
    return std::min(std::stoi(v), 86400);
  }
  return 0;
}

std::string status_text(int status) {
  return "HTTP " + std::to_string(status);
}

}  // namespace

std::string national_number(const std::string& e164) {
  if (e164.starts_with("+86") && e164.size() == 14) return e164.substr(3);
  return e164.starts_with("+") ? e164.substr(1) : e164;
}

std::vector<std::string> message_texts(const SmsHttpSettings& settings, const std::string& text) {
  std::string full = sms::with_signature(text, settings.signature);
  if (text::length_u32(full) > settings.max_length) {
    std::u32string chars = text::to_u32(full);
    chars.resize(settings.max_length - 1);
    full = text::to_utf8(chars) + "…";
  }
  if (settings.split == SplitMode::none) return {full};
  auto segments = sms::split(full);
  if (segments.parts.empty()) return {full};
  return segments.parts;
}

TemplateValues request_values(const SmsHttpSettings& settings, const std::string& e164, const std::string& text,
                              const std::string& id, std::size_t part, std::size_t parts) {
  return TemplateValues{{"to", e164},
                        {"to_national", national_number(e164)},
                        {"text", text},
                        {"id", id},
                        {"from", settings.from},
                        {"part", std::to_string(part)},
                        {"parts", std::to_string(parts)}};
}

ClientRequest build_request(const SmsHttpSettings& settings, const TemplateValues& values) {
  ClientRequest req;
  req.method = settings.method;
  req.url = settings.url.render(values, Escape::url);
  req.timeout = settings.timeout;
  if (settings.method != "GET") {
    switch (settings.content_type) {
      case ContentType::form:
        req.body = settings.body.render(values, Escape::url);
        if (!settings.content_type_header_set)
          req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
        break;
      case ContentType::json:
        req.body = settings.body.render(values, Escape::json);
        if (!settings.content_type_header_set) req.headers.emplace_back("Content-Type", "application/json");
        break;
      case ContentType::text:
        req.body = settings.body.render(values, Escape::raw);
        if (!settings.content_type_header_set) req.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
        break;
    }
  }
  // Header values: percent-encoded variables can never break the header line.
  for (const auto& [name, value] : settings.headers) req.headers.emplace_back(name, value.render(values, Escape::url));
  return req;
}

Verdict evaluate(const SmsHttpSettings& settings, const ClientResponse& response, const std::string& our_id) {
  Verdict v;
  if (response.status == 0) {
    v.result =
        unreachable_or_retry(response, "短信网关无法连接 / the SMS gateway cannot be reached: " + response.error);
    return v;
  }
  const std::string quoted = quote_gateway(response.body);
  if (settings.success.status.contains(response.status)) {
    const auto& s = settings.success;
    bool confirmed = s.contains.empty() || response.body.find(s.contains) != std::string::npos;
    if (confirmed && !s.pointer.empty()) confirmed = at_pointer(response.body, s.pointer) == s.equals;
    if (!confirmed) {
      v.result = SendResult::permanent("短信网关未接受 / the SMS gateway did not take the message (" +
                                       status_text(response.status) + "): " + quoted);
      return v;
    }
    std::optional<std::string> id;
    const auto& x = settings.message_id;
    if (!x.pointer.empty()) {
      id = at_pointer(response.body, x.pointer);
    } else if (x.regex) {
      // Bounded: std::regex recurses per character and a huge answer could exhaust the stack.
      const std::string head = response.body.substr(0, 8 * 1024);
      std::smatch m;
      if (std::regex_search(head, m, *x.regex)) id = m[1].str();
    } else {
      id = our_id;
    }
    if (id && id->empty()) id.reset();
    v.id_found = id.has_value();
    v.result = SendResult::ok(id.value_or(our_id));
    return v;
  }
  if (settings.retry_status.contains(response.status)) {
    v.result = SendResult::retryable(
        "短信网关繁忙 / the SMS gateway is busy (" + status_text(response.status) + "): " + quoted,
        retry_after_s(response));
    return v;
  }
  v.result = SendResult::permanent("短信网关拒绝 / the SMS gateway refused the message (" +
                                   status_text(response.status) + "): " + quoted);
  return v;
}

std::string quote_gateway(std::string_view body) {
  constexpr std::size_t kLimit = 200;
  std::string line;
  for (const char c : body) line += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  // Repaired before the cut (a byte that is not UTF-8 becomes three), masked before the cut so that no
  // half number escapes the mask.
  if (!text::valid_utf8(line)) line = text::to_utf8(text::to_u32(line));
  line = text::mask_phones_in(text::trim(line));
  if (line.size() > kLimit) {
    std::size_t cut = kLimit;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
    line = line.substr(0, cut) + "…";
  }
  if (line.empty()) line = "(no body)";
  return line;
}

}  // namespace villagebot::adapters::sms_http
