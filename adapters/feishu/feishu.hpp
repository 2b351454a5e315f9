#pragma once
// The Feishu / Lark (飞书) adapter (issue 10). Out: a group with a custom bot (自定义机器人) gets
// POST <webhook_url> {"timestamp","sign","msg_type":"text","content":{"text"}} signed
// Base64(HMAC-SHA256(timestamp + "\n" + secret, "")); everything else (a person by open_id, a
// group chat by chat_id) goes through the messaging API, POST
// {api_base}/open-apis/im/v1/messages?receive_id_type=open_id|chat_id with a tenant access token
// that is cached and fetched again when Feishu says it is invalid or expired.
// In: the event subscription /hooks/<id>/events: an encrypted body ({"encrypt"}, AES-256-CBC with
// the encrypt key) whose X-Lark-Signature (SHA-256 of timestamp + nonce + encrypt key + body)
// must match, and whose token must be the verification token; url_verification answers the
// challenge; im.message.receive_v1 text from a user is submitted with their open_id (the
// directory's feishu_id), and the replies go back through the messaging API.
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "villagebot/adapter.hpp"

namespace villagebot::adapters {

struct FeishuRobot {
  GroupChat chat;           // chat_id: the group's chat id (oc_…) or our name for it
  std::string webhook_url;  // https://open.feishu.cn/open-apis/bot/v2/hook/… (secret)
  std::string secret;       // 签名校验 secret; "" = unsigned
};

struct FeishuSettings {
  std::string api_base = "https://open.feishu.cn";
  std::string app_id, app_secret;  // the app: tenant access token for the messaging API (secret)
  std::string verification_token;  // events carry it; "" with an encrypt key = not checked
  std::string encrypt_key;         // events are encrypted and signed with it (secret)
  std::vector<FeishuRobot> robots;
  std::chrono::milliseconds timeout{10000};
  [[nodiscard]] bool app() const { return !app_id.empty() && !app_secret.empty(); }
  [[nodiscard]] bool events() const { return !encrypt_key.empty() || !verification_token.empty(); }
};

// An event request after verification and decryption: a challenge to echo, a message to submit,
// or nothing; status 401/400 with the reason when refused.
struct FeishuEvent {
  int status = 200;
  std::string error;
  std::string challenge;
  std::optional<InboundMessage> message;
};
FeishuEvent feishu_parse_event(const FeishuSettings& s, const HttpRequest& request);
SendResult feishu_result(const ClientResponse& response, bool* token_invalid = nullptr);

class Feishu final : public Adapter {
 public:
  void configure(ConfigSection& config) override;
  void start(AdapterContext& context) override;
  void stop() override { route_.reset(); }
  [[nodiscard]] std::string identity_kind() const override { return "feishu"; }
  [[nodiscard]] bool can_send_personal() const override { return settings_.app(); }
  [[nodiscard]] bool can_send_group() const override { return settings_.app() || !settings_.robots.empty(); }
  [[nodiscard]] std::vector<GroupChat> group_chats() const override;
  SendResult send(const OutboundMessage& message) override;

 private:
  void handle(const HttpRequest& request, const Responder& respond);
  std::string tenant_token(bool refresh, std::string* error);
  FeishuSettings settings_;
  AdapterContext* context_ = nullptr;
  Registration route_;
  std::mutex token_mutex_;
  std::string token_;
  std::chrono::steady_clock::time_point token_expires_{};
};

}  // namespace villagebot::adapters
