// Fuzz target: the Chinese cloud SMS vendors' pushes (adapters/aliyun_sms, adapters/tencent_sms,
// adapters/common/cloud_sms): Aliyun's SmsReport and SmsUp batches, Tencent's status reports and
// replies, the callbacks' token, and both vendors' answers to SendSms. Input: a mode byte
// ('0'…'6'), then the body or fields separated by 0x1F.
//   0  Aliyun SmsReport body      1  Aliyun SmsUp body
//   2  Tencent status report body 3  Tencent reply body
//   4  path token, query: the callback token check with the fixed token
//   5  HTTP status, body: Aliyun's answer   6  HTTP status, body: Tencent's answer
// Invariants: never throws (a bad push is refused whole, saying why); a receipt names its message
// and a failure's reason is valid UTF-8; a text from a villager has an E.164 sender, valid UTF-8 and
// the vendor's id; only the configured token passes; an answer is `sent` only with the vendor's OK.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aliyun_sms.hpp"
#include "cloud_sms.hpp"
#include "tencent_sms.hpp"
#include "villagebot/text.hpp"

#include "fuzz_support.hpp"

namespace {

using villagebot::fuzz::check;
using villagebot::fuzz::split;
using villagebot::fuzz::status_of;

using namespace villagebot;
using namespace villagebot::adapters;

constexpr const char* kToken = "cb-token-0123456789abcdef";

bool e164(const std::string& phone) {
  return phone.size() >= 2 && phone.size() <= 16 && phone[0] == '+' &&
         phone.find_first_not_of("0123456789", 1) == std::string::npos;
}

void check_texts(const std::optional<std::vector<InboundMessage>>& messages, const std::string& error,
                 std::string_view id_prefix) {
  if (!messages) {
    check(!error.empty());
    return;
  }
  for (const auto& m : *messages) {
    check(e164(m.sender));
    check(m.message_id.starts_with(id_prefix) && m.message_id.size() > id_prefix.size());
    check(m.identity_kind == "phone" && m.channel == ChannelKind::personal && m.chat_id.empty());
    check(text::valid_utf8(m.text) && text::valid_utf8(m.message_id));
  }
}

template <typename Receipts, typename Id>
void check_receipts(const Receipts& receipts, const std::string& error, Id id) {
  if (!receipts) {
    check(!error.empty());
    return;
  }
  for (const auto& r : *receipts) {
    check(!id(r).empty());
    check(text::valid_utf8(r.error));
    if (r.delivered) check(r.error.empty());
  }
}

void token(const std::string& path_token, const std::string& query) {
  HttpRequest r;
  r.method = "POST";
  r.query = query;
  if (!path_token.empty()) r.path_params["token"] = path_token;
  const bool given = path_token.empty() ? r.query_param("token") == kToken : path_token == kToken;
  check(cloud_sms::token_valid(kToken, r) == given);
  check(!cloud_sms::token_valid("", r));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned mode = static_cast<unsigned char>(data[0] - '0') % 7;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string error;
  switch (mode) {
    case 0:
      check_receipts(aliyun_parse_reports(rest, error), error, [](const AliyunReceipt& r) { return r.biz_id; });
      break;
    case 1:
      check_texts(aliyun_parse_up(rest, error), error, "aliyun-up:");
      break;
    case 2:
      check_receipts(tencent_parse_reports(rest, error), error, [](const TencentReceipt& r) { return r.sid; });
      break;
    case 3:
      check_texts(tencent_parse_replies(rest, error), error, "tencent-up:");
      break;
    case 4: {
      const auto f = split(rest, 2);
      token(f[0], f[1]);
      break;
    }
    case 5: {
      const auto f = split(rest, 2);
      ClientResponse response;
      response.status = status_of(f[0]);
      response.body = f[1];
      const auto a = aliyun_result(response);
      check(a.result.retry_after_s >= 0 && text::valid_utf8(a.result.error));
      if (a.result.status == SendResult::Status::sent) check(a.code == "OK");
      break;
    }
    default: {
      const auto f = split(rest, 2);
      ClientResponse response;
      response.status = status_of(f[0]);
      response.body = f[1];
      const auto a = tencent_result(response);
      check(a.result.retry_after_s >= 0 && text::valid_utf8(a.result.error));
      if (a.result.status == SendResult::Status::sent) check(a.code == "Ok");
      break;
    }
  }
  return 0;
}
