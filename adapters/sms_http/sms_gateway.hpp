#pragma once
// One message to one gateway request (or one per part), and the gateway's answer to a verdict:
// sent (with the gateway's id), retry later (429, 5xx, no answer; Retry-After honoured) or
// failed for good, quoting the gateway (truncated, phone numbers masked).
#include <string>
#include <string_view>
#include <vector>

#include "sms_http_settings.hpp"
#include "villagebot/http_client.hpp"
#include "villagebot/message.hpp"

namespace villagebot::adapters::sms_http {

// +8613800000001 → 13800000001; other countries: the digits without '+'.
std::string national_number(const std::string& e164);

// The texts to send: the signature in front (unless already there), cut to max_length characters
// with "…", then one text (split = none) or the SMS parts of sms::split (split = parts).
std::vector<std::string> message_texts(const SmsHttpSettings& settings, const std::string& text);

TemplateValues request_values(const SmsHttpSettings& settings, const std::string& e164, const std::string& text,
                              const std::string& id, std::size_t part, std::size_t parts);
ClientRequest build_request(const SmsHttpSettings& settings, const TemplateValues& values);

struct Verdict {
  SendResult result;
  bool id_found = true;  // false: the extractor found nothing in a success (the id we sent is used)
};
// `our_id` is the {{id}} of the request: the provider id when no extractor is configured.
Verdict evaluate(const SmsHttpSettings& settings, const ClientResponse& response, const std::string& our_id);

// The gateway's words for an error message: one line, at most 200 bytes, phones masked.
std::string quote_gateway(std::string_view body);

}  // namespace villagebot::adapters::sms_http
