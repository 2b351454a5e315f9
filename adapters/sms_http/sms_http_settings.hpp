#pragma once
// The configuration of one sms-http gateway ([[adapters]] type = "sms-http"), validated once at
// configure time: every template parsed, every JSON pointer and regex compiled, so that a request
// path never meets a config mistake.
#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "sms_template.hpp"
#include "villagebot/config.hpp"

namespace villagebot::adapters::sms_http {

enum class ContentType { form, json, text };
enum class SplitMode { none, parts };  // none: the gateway splits a long text; parts: one request per part
enum class CallbackAuth { none, token, hmac };

// HTTP status codes written as "200" or as a class "5xx".
class StatusSet {
 public:
  // false when an entry is neither a code (100..599) nor a class (1xx..5xx).
  bool add(const std::string& entry);
  [[nodiscard]] bool contains(int status) const;
  [[nodiscard]] bool empty() const { return ranges_.empty(); }

 private:
  std::vector<std::pair<int, int>> ranges_;
};

// When the gateway took the message: its status is one of `status` and, when set, its body
// contains `contains` and the value at `pointer` (JSON) equals `equals`.
struct SuccessMatcher {
  StatusSet status;
  std::string contains;
  std::string pointer;  // "" = no JSON check
  std::string equals;
};

// The gateway's id of the message (what its delivery reports name): a JSON pointer into the
// answer, or a regex whose one group is the id. Neither: the id we sent ({{id}}) is the id.
struct MessageIdExtractor {
  std::string pointer;
  std::optional<std::regex> regex;
  std::string regex_source;
};

// Field names of a callback: a form or query field name, or for a JSON body a top-level key or
// a JSON pointer ("/data/msgid").
struct ReportSettings {
  bool enabled = false;
  std::string id_field = "id";
  std::string status_field = "status";
  std::string error_field;  // "" = none
  std::vector<std::string> delivered_values{"DELIVRD", "delivered"};
  std::vector<std::string> failed_values{"UNDELIV", "REJECTD", "EXPIRED", "failed", "undelivered"};
  std::string response = "OK";
};

struct ReceiveSettings {
  bool enabled = false;
  std::string from_field = "from";
  std::string text_field = "text";
  std::string id_field;  // "" = the gateway sends no id (then a repeated callback is a new message)
  std::string response = "OK";
  std::string response_content_type = "text/plain; charset=utf-8";
};

struct SmsHttpSettings {
  std::string url_source;
  Template url;
  std::string method = "POST";
  ContentType content_type = ContentType::form;
  Template body;
  std::vector<std::pair<std::string, Template>> headers;  // name, value template
  bool content_type_header_set = false;                   // headers name their own Content-Type
  std::chrono::milliseconds timeout{10000};
  std::string from;
  std::string signature;         // 【村名】, counted in the length and the parts
  std::size_t max_length = 500;  // characters per message, signature included; longer is cut with …
  SplitMode split = SplitMode::none;
  SuccessMatcher success;
  StatusSet retry_status;
  MessageIdExtractor message_id;
  ReportSettings report;
  ReceiveSettings receive;
  CallbackAuth auth = CallbackAuth::token;
  std::string secret;
  std::string auth_header;  // token: the header carrying it; hmac: the signature's header
  std::string auth_query = "token";
};

// Reads and checks every key; errors go to the section (file, line, key). Never throws.
SmsHttpSettings read_settings(ConfigSection& config);

}  // namespace villagebot::adapters::sms_http
