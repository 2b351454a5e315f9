#pragma once
// What the Chinese cloud SMS adapters (aliyun-sms, tencent-sms) share (issue 11):
//
// - Templates. Carriers deliver only approved templates, so each kind of message (emergency,
//   reply, notice, bulk — from OutboundMessage::priority) maps to a template whose one variable
//   carries the text ([[adapters.templates]]: kind, code, param, max_chars); `default` covers the
//   kinds without their own. No template → the message fails with a refusal in both languages.
// - Long texts. The vendors limit a variable's length (Aliyun 35 characters for most accounts,
//   Tencent 12 for a personal one). With max_chars set, a longer text goes as several SMS, each
//   its own request, each labelled (1/3) … (3/3) because they may arrive in any order, at most
//   max_parts of them (the last cut with …). Parts already accepted are recorded in the adapter's
//   table, so a retry after a throttled part never sends a part twice.
// - Callbacks. Neither vendor signs its pushes: the routes need a secret token (query `token` or
//   the last path segment), compared in constant time; a batch is acknowledged only once every
//   message in it is durable.
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "villagebot/adapter.hpp"

namespace villagebot::adapters::cloud_sms {

struct SmsTemplate {
  std::string kind;                 // emergency, reply, notice, bulk or default
  std::string code;                 // Aliyun TemplateCode (SMS_123456) or Tencent TemplateId
  std::string param;                // Aliyun: the variable's name; Tencent: its position, 1-based
  std::vector<std::string> params;  // Tencent: every parameter, the text's position left ""
  std::size_t max_chars = 0;        // characters the variable takes; 0: no limit of ours
};

// The kind a message is sent as (its priority's name).
std::string kind_of(Priority priority);

class Templates {
 public:
  // Reads every [[adapters.templates]]; `positional` (Tencent) makes `param` a position.
  void configure(ConfigSection& config, bool positional);
  // The template for the message's kind, else the default one, else nothing.
  [[nodiscard]] const SmsTemplate* find(Priority priority) const;
  [[nodiscard]] std::size_t size() const { return by_kind_.size(); }

 private:
  std::map<std::string, SmsTemplate> by_kind_;
};

// "没有适用于「通知」类消息的短信模板… / no approved SMS template for notice messages …"
std::string refusal(Priority priority);

// The text as the variable's pieces: one piece when it fits (or max_chars is 0), else pieces of
// at most max_chars characters (code points), label included, at most max_parts of them.
// With max_parts 1 (or 0) a longer text is one unlabelled piece of max_chars ending with ….
// `cut` tells whether the text was too long even for max_parts.
std::vector<std::string> pieces(std::string_view text, std::size_t max_chars, std::size_t max_parts,
                                bool* cut = nullptr);

// "+8613800000001" → "13800000001"; another country keeps its code without "+" (Aliyun's form).
std::string national_or_international(std::string_view address);

// The callbacks' secret: query `token`, or the route's {token} segment; constant time.
bool token_valid(const std::string& configured, const HttpRequest& request);
// What config accepts as a token: 16 to 128 of A-Z a-z 0-9 _ - (it travels in a URL).
bool token_acceptable(std::string_view token);

// ISO 8601 UTC ("2017-07-12T02:42:19Z") and a random UUID (version 4).
std::string iso8601_utc(std::int64_t unix_s);
std::string uuid4();

// Parts of a long message already accepted by the vendor, kept across a crash and a retry.
class PartLedger {
 public:
  // `table`: the adapter type's own table (aliyun_sms_parts, tencent_sms_parts).
  explicit PartLedger(std::string table) : table_(std::move(table)) {}
  // Creates the table under `module` ("adapter.aliyun-sms") and forgets rows older than a week.
  void start(Storage& storage, const std::string& module);
  std::map<std::size_t, std::string> sent(Storage& storage, const std::string& adapter_id, const std::string& key);
  void record(Storage& storage, const std::string& adapter_id, const std::string& key, std::size_t part,
              const std::string& provider_id);

 private:
  std::string table_;
};

// One request to the vendor for one piece (1-based index of total).
using SendPiece = std::function<SendResult(const std::string& piece, std::size_t index, std::size_t total)>;
// Sends the message's pieces in order, skipping those the ledger has; ok_parts with every piece's id.
SendResult send_pieces(AdapterContext& context, PartLedger& ledger, const OutboundMessage& message,
                       const SmsTemplate& tpl, std::size_t max_parts, const SendPiece& send_piece);

// Submits every message of a pushed batch; `ok` once every one is durable (replies go out through
// the outbox), `retry` (a non-200 answer: the vendor pushes the batch again) when one could not be
// stored. A message the pipeline rejects is logged and counted as handled: a push again would not help.
void submit_batch(AdapterContext& context, std::vector<InboundMessage> messages, const Responder& respond,
                  HttpResponse ok, HttpResponse retry);

// Registers POST <path> and POST <path>/{token}, both public with a body limit.
void add_token_routes(AdapterContext& context, std::vector<Registration>& keep, const std::string& path,
                      const std::string& summary, std::size_t max_body_bytes, HttpHandler handler);

}  // namespace villagebot::adapters::cloud_sms
