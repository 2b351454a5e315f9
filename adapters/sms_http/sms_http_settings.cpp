#include "sms_http_settings.hpp"

#include <cctype>

#include <nlohmann/json.hpp>

namespace villagebot::adapters::sms_http {

namespace {

bool valid_pointer(const std::string& pointer, std::string& error) {
  try {
    (void)nlohmann::json::json_pointer(pointer);
  } catch (const nlohmann::json::exception& e) {
    error = e.what();
    return false;
  }
  if (pointer.empty()) {
    error = "an empty pointer names the whole answer";
    return false;
  }
  return true;
}

std::optional<Template> read_template(ConfigSection& config, std::string_view key, const std::string& fallback) {
  const std::string source = config.string_or(key, fallback);
  std::string error;
  auto t = Template::parse(source, error);
  if (!t) config.error(key, error);
  return t;
}

bool valid_header_name(const std::string& name) {
  if (name.empty()) return false;
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    const bool ok = (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// What the JSON body looks like with every variable filled: a template that is not JSON then is
// a config error now, not a refusal by the gateway on every message.
const TemplateValues& sample_values() {
  static const TemplateValues values{{"to", "+8613800000000"},
                                     {"to_national", "13800000000"},
                                     {"text", "【村】\"测试\" & =\n"},
                                     {"id", "vb-1-1"},
                                     {"from", "10690000"},
                                     {"part", "1"},
                                     {"parts", "1"}};
  return values;
}

void read_status_list(ConfigSection& config, std::string_view key, StatusSet& set,
                      const std::vector<std::string>& fallback) {
  const auto entries = config.strings(key).value_or(fallback);
  for (const auto& e : entries)
    if (!set.add(e)) {
      config.error(key, "'" + e + "' is not an HTTP status: write codes as strings, \"200\", or classes, \"5xx\"");
      return;
    }
  if (set.empty()) config.error(key, "must name at least one status");
}

void read_success(ConfigSection& config, SuccessMatcher& success) {
  auto section = config.table("success");
  if (!section) {
    success.status.add("2xx");
    return;
  }
  read_status_list(*section, "status", success.status, {"2xx"});
  success.contains = section->string_or("contains", "");
  success.pointer = section->string_or("pointer", "");
  success.equals = section->string_or("equals", "");
  std::string error;
  if (!success.pointer.empty() && !valid_pointer(success.pointer, error))
    section->error("pointer", "is not a JSON pointer (RFC 6901, e.g. \"/code\"): " + error);
  if (section->has("pointer") && !section->has("equals"))
    section->error("pointer", "needs `equals`: the value the gateway answers when it took the message");
  if (section->has("equals") && !section->has("pointer"))
    section->error("equals", "needs `pointer`: where in the JSON answer the value is");
}

void read_message_id(ConfigSection& config, MessageIdExtractor& out) {
  auto section = config.table("message_id");
  if (!section) return;
  out.pointer = section->string_or("pointer", "");
  out.regex_source = section->string_or("regex", "");
  std::string error;
  if (!out.pointer.empty() && !valid_pointer(out.pointer, error))
    section->error("pointer", "is not a JSON pointer (RFC 6901, e.g. \"/data/msgid\"): " + error);
  if (!out.regex_source.empty()) {
    try {
      std::regex re(out.regex_source, std::regex::ECMAScript);
      if (re.mark_count() != 1)
        section->error("regex", "must have exactly one group (…), the id; it has " + std::to_string(re.mark_count()));
      else
        out.regex = std::move(re);
    } catch (const std::regex_error& e) {
      section->error("regex", std::string("is not a valid regular expression: ") + e.what());
    }
  }
  if (out.pointer.empty() && out.regex_source.empty())
    section->error("", "needs `pointer` (a JSON answer) or `regex` (a text answer)");
  if (!out.pointer.empty() && !out.regex_source.empty()) section->error("regex", "give `pointer` or `regex`, not both");
}

void check_field(ConfigSection& section, std::string_view key, const std::string& field) {
  std::string error;
  if (field.empty())
    section.error(key, "must not be empty");
  else if (field.front() == '/' && !valid_pointer(field, error))
    section.error(key, "is not a JSON pointer (RFC 6901): " + error);
}

void read_report(ConfigSection& config, ReportSettings& report) {
  auto section = config.table("report");
  if (!section) return;
  report.enabled = true;
  report.id_field = section->string_or("id_field", report.id_field);
  report.status_field = section->string_or("status_field", report.status_field);
  report.error_field = section->string_or("error_field", "");
  report.delivered_values = section->strings("delivered_values").value_or(report.delivered_values);
  report.failed_values = section->strings("failed_values").value_or(report.failed_values);
  report.response = section->string_or("response", report.response);
  check_field(*section, "id_field", report.id_field);
  check_field(*section, "status_field", report.status_field);
  if (!report.error_field.empty()) check_field(*section, "error_field", report.error_field);
  if (report.delivered_values.empty()) section->error("delivered_values", "must name at least one value");
}

void read_receive(ConfigSection& config, ReceiveSettings& receive) {
  auto section = config.table("receive");
  if (!section) return;
  receive.enabled = true;
  receive.from_field = section->string_or("from_field", receive.from_field);
  receive.text_field = section->string_or("text_field", receive.text_field);
  receive.id_field = section->string_or("id_field", "");
  receive.response = section->string_or("response", receive.response);
  receive.response_content_type = section->string_or("response_content_type", receive.response_content_type);
  check_field(*section, "from_field", receive.from_field);
  check_field(*section, "text_field", receive.text_field);
  if (!receive.id_field.empty()) check_field(*section, "id_field", receive.id_field);
}

void read_auth(ConfigSection& config, SmsHttpSettings& s) {
  const std::string auth = config.string_or("auth", "token");
  if (auth == "token") {
    s.auth = CallbackAuth::token;
  } else if (auth == "hmac") {
    s.auth = CallbackAuth::hmac;
  } else if (auth == "none") {
    s.auth = CallbackAuth::none;
  } else {
    config.error("auth", "must be \"token\", \"hmac\" or \"none\"");
  }
  s.secret = config.string_or("secret", "");
  s.auth_header =
      config.string_or("auth_header", s.auth == CallbackAuth::hmac ? "X-Villagebot-Signature" : "X-Villagebot-Token");
  s.auth_query = config.string_or("auth_query", s.auth_query);
  if (!valid_header_name(s.auth_header)) config.error("auth_header", "is not a valid HTTP header name");
  const bool callbacks = s.report.enabled || s.receive.enabled;
  if (callbacks && s.auth != CallbackAuth::none && s.secret.empty())
    config.error("secret", "is required for auth = \"" + auth +
                               "\" when [report] or [receive] is configured: write secret = \"${SMS_HOOK_SECRET}\"");
  if (s.auth != CallbackAuth::none && !s.secret.empty() && s.secret.size() < 16)
    config.error("secret", "is too short: use at least 16 random characters (openssl rand -hex 16)");
}

}  // namespace

bool StatusSet::add(const std::string& entry) {
  if (entry.size() != 3) return false;
  if (entry[1] == 'x' && entry[2] == 'x' && entry[0] >= '1' && entry[0] <= '5') {
    const int base = (entry[0] - '0') * 100;
    ranges_.emplace_back(base, base + 99);
    return true;
  }
  if (entry.find_first_not_of("0123456789") != std::string::npos) return false;
  const int code = std::stoi(entry);
  if (code < 100 || code > 599) return false;
  ranges_.emplace_back(code, code);
  return true;
}

bool StatusSet::contains(int status) const {
  for (const auto& [lo, hi] : ranges_)
    if (status >= lo && status <= hi) return true;
  return false;
}

SmsHttpSettings read_settings(ConfigSection& config) {
  SmsHttpSettings s;
  s.url_source = config.require_string("url");
  if (!s.url_source.empty()) {
    if (!s.url_source.starts_with("http://") && !s.url_source.starts_with("https://"))
      config.error("url", "must start with http:// or https://");
    if (auto t = read_template(config, "url", "")) s.url = std::move(*t);
  }

  s.method = config.string_or("method", s.method);
  if (s.method != "GET" && s.method != "POST" && s.method != "PUT")
    config.error("method", "must be \"GET\", \"POST\" or \"PUT\" (in capitals)");

  const std::string content_type = config.string_or("content_type", "form");
  if (content_type == "form") {
    s.content_type = ContentType::form;
  } else if (content_type == "json") {
    s.content_type = ContentType::json;
  } else if (content_type == "text") {
    s.content_type = ContentType::text;
  } else {
    config.error("content_type", "must be \"form\", \"json\" or \"text\"");
  }

  std::string default_body;
  if (s.method != "GET") {
    switch (s.content_type) {
      case ContentType::form:
        default_body = "to={{to}}&text={{text}}&id={{id}}";
        break;
      case ContentType::json:
        default_body = R"({"to":"{{to}}","text":"{{text}}","id":"{{id}}"})";
        break;
      case ContentType::text:
        default_body = "{{text}}";
        break;
    }
  }
  if (s.method == "GET" && config.has("body"))
    config.error("body", "a GET request has no body: put the variables in the url");
  if (auto t = read_template(config, "body", default_body)) s.body = std::move(*t);
  if (s.content_type == ContentType::json && !s.body.empty()) {
    const auto sample = s.body.render(sample_values(), Escape::json);
    if (!nlohmann::json::accept(sample))
      config.error("body",
                   "is not JSON once its variables are filled in (write string variables in quotes: "
                   "\"text\":\"{{text}}\")");
  }

  for (const auto& line : config.strings("headers").value_or(std::vector<std::string>{})) {
    const auto colon = line.find(':');
    std::string name = colon == std::string::npos ? std::string() : line.substr(0, colon);
    std::string value = colon == std::string::npos ? std::string() : line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    if (!valid_header_name(name) || line.find_first_of("\r\n") != std::string::npos) {
      config.error("headers", "'" + name + "…' must be written \"Name: value\" on one line");
      continue;
    }
    std::string error;
    auto t = Template::parse(value, error);
    if (!t) {
      config.error("headers", error);
      continue;
    }
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "content-type") s.content_type_header_set = true;
    s.headers.emplace_back(std::move(name), std::move(*t));
  }

  s.timeout = std::chrono::milliseconds(config.integer_or("timeout_ms", 10000, 100, 120000));
  s.from = config.string_or("from", "");
  s.signature = config.string_or("signature", "");
  s.max_length = static_cast<std::size_t>(config.integer_or("max_length", 500, 10, 10000));
  const std::string split = config.string_or("split", "none");
  if (split == "none") {
    s.split = SplitMode::none;
  } else if (split == "parts") {
    s.split = SplitMode::parts;
  } else {
    config.error("split", "must be \"none\" (the gateway splits a long text) or \"parts\" (one request per part)");
  }

  read_success(config, s.success);
  read_status_list(config, "retry_status", s.retry_status, {"429", "5xx"});
  read_message_id(config, s.message_id);
  read_report(config, s.report);
  read_receive(config, s.receive);
  read_auth(config, s);
  return s;
}

}  // namespace villagebot::adapters::sms_http
