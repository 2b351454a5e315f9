#include "sms_callbacks.hpp"

#include <cctype>

#include "villagebot/crypto.hpp"
#include "villagebot/text.hpp"

namespace villagebot::adapters::sms_http {

namespace {

using nlohmann::json;

std::optional<std::string> scalar(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number() || v.is_boolean()) return v.dump();
  return std::nullopt;
}

bool all_utf8(const std::map<std::string, std::string>& fields) {
  for (const auto& [k, v] : fields)
    if (!text::valid_utf8(k) || !text::valid_utf8(v)) return false;
  return true;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::optional<std::string> CallbackFields::get(const std::string& field) const {
  if (object.is_object()) {
    if (field.starts_with("/")) {
      try {
        const json::json_pointer p(field);
        if (object.contains(p)) return scalar(object.at(p));
      } catch (const json::exception&) {
        return std::nullopt;  // checked at configure time; a body cannot make it invalid
      }
    } else if (auto it = object.find(field); it != object.end()) {
      return scalar(*it);
    }
  }
  if (auto it = form.find(field); it != form.end()) return it->second;
  if (auto it = query.find(field); it != query.end()) return it->second;
  return std::nullopt;
}

std::vector<CallbackFields> callback_fields(const HttpRequest& request, std::string& error, bool with_query) {
  if (!text::valid_utf8(request.body)) {
    error = "the body is not valid UTF-8";
    return {};
  }
  CallbackFields base;
  if (with_query) base.query = parse_form(request.query);
  const std::string type = lower(request.header("content-type"));
  const std::string body = text::trim(request.body);
  const bool json_body = !body.empty() && (type.find("json") != std::string::npos ||
                                           (type.empty() && (body.front() == '{' || body.front() == '[')));
  std::vector<CallbackFields> out;
  if (json_body) {
    const json doc = json::parse(body, nullptr, false);
    if (doc.is_object()) {
      base.object = doc;
      out.push_back(std::move(base));
    } else if (doc.is_array() && !doc.empty()) {
      for (const auto& item : doc) {
        if (!item.is_object()) {
          error = "a JSON array of objects was expected";
          return {};
        }
        CallbackFields f = base;
        f.object = item;
        out.push_back(std::move(f));
      }
    } else {
      error = "the body is not a JSON object (nor an array of objects)";
      return {};
    }
  } else {
    base.form = parse_form(body);
    out.push_back(std::move(base));
  }
  // %XX escapes can spell bytes that are not UTF-8.
  if (!all_utf8(out.front().form) || !all_utf8(out.front().query)) {
    error = "a field is not valid UTF-8 once decoded";
    return {};
  }
  return out;
}

std::string signed_payload(const HttpRequest& request) {
  return request.body.empty() ? request.query : request.body;
}

bool query_trusted(const SmsHttpSettings& settings, const HttpRequest& request) {
  return settings.auth != CallbackAuth::hmac || request.body.empty();
}

bool callback_authentic(const SmsHttpSettings& settings, const HttpRequest& request) {
  switch (settings.auth) {
    case CallbackAuth::none:
      return true;
    case CallbackAuth::token: {
      std::string given = request.header(settings.auth_header);
      if (given.starts_with("Bearer ")) given = given.substr(7);
      if (given.empty() && !settings.auth_query.empty()) given = parse_form(request.query)[settings.auth_query];
      return !given.empty() && crypto::constant_time_equal(given, settings.secret);
    }
    case CallbackAuth::hmac: {
      std::string given = text::trim(request.header(settings.auth_header));
      if (given.starts_with("sha256=")) given = given.substr(7);
      if (given.empty()) return false;
      const std::string mac = crypto::hmac_sha256(settings.secret, signed_payload(request));
      if (given.size() == 64) return crypto::constant_time_equal(lower(given), crypto::to_hex(mac));
      return crypto::constant_time_equal(given, crypto::base64_encode(mac));
    }
  }
  return false;
}

}  // namespace villagebot::adapters::sms_http
