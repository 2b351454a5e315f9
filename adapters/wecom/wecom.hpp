#pragma once
// The WeCom (企业微信) adapter (issue 10).
//
// Out: a group's robot (群机器人) posts to its group chat — POST
// {api_base}/cgi-bin/webhook/send?key=<robot key> {"msgtype":"text","text":{"content"}} — and the
// self-built application (自建应用) writes to a person privately — POST
// {api_base}/cgi-bin/message/send?access_token=<token> {"touser","msgtype":"text","agentid",
// "text"} with the access token from /cgi-bin/gettoken, cached until shortly before it expires and
// fetched again when WeCom says it is invalid or expired.
// In: the application's callback /hooks/<id>/callback — GET verifies the URL (echostr), POST
// carries an AES-encrypted XML message; both are signed (msg_signature over token, timestamp,
// nonce and the ciphertext) and encrypted for the corp id. A text message from a person is
// submitted with their WeCom user id (the directory's wecom_id); the replies go back through
// message/send.
//
// Errors: errcode 45009 (over the frequency limit) and -1 (system busy), HTTP 5xx and network
// failures are retried; 40014 / 42001 / 41001 (token invalid, expired, missing) fetch a new token
// and retry at once; every other errcode fails the message with WeCom's own words.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "villagebot/adapter.hpp"

namespace villagebot::adapters {

struct WecomRobot {
  std::string chat_id;    // our address for the group
  std::string name;       // 一组村民群
  std::string org_unit;   // whose people are in it
  std::string key;        // the robot's webhook key (secret)
  bool markdown = false;  // posts as msgtype markdown (rendered in WeCom; no @-mentions by phone)
};

struct WecomSettings {
  std::string api_base = "https://qyapi.weixin.qq.com";
  // The application: private messages out, the callback in.
  std::string corp_id, secret, token, encoding_aes_key;
  std::int64_t agent_id = 0;
  std::vector<WecomRobot> robots;
  int throttle_retry_s = 60;  // WeCom counts robot posts per minute
  std::chrono::milliseconds timeout{10000};
  [[nodiscard]] bool app() const { return !corp_id.empty() && !secret.empty() && agent_id > 0; }
  [[nodiscard]] bool callback() const { return !corp_id.empty() && !token.empty() && !encoding_aes_key.empty(); }
};

// The pieces of a WeCom XML message: <Tag><![CDATA[value]]></Tag> or <Tag>value</Tag>, the first such
// element outside CDATA sections (a villager's text cannot spell another field).
std::optional<std::string> xml_field(const std::string& xml, const std::string& tag);

// A callback's outcome: the message (or nothing, for events), or why it is refused (401/400).
struct WecomCallback {
  int status = 200;
  std::string error;
  std::optional<InboundMessage> message;
  std::string echo;  // GET: the decrypted echostr to answer with
};
WecomCallback wecom_verify_url(const WecomSettings& s, const HttpRequest& request);
WecomCallback wecom_parse_message(const WecomSettings& s, const HttpRequest& request);

// What a WeCom API answer means for the delivery engine.
SendResult wecom_result(const ClientResponse& response, int throttle_retry_s, bool* token_invalid = nullptr);

class Wecom final : public Adapter {
 public:
  void configure(ConfigSection& config) override;
  void start(AdapterContext& context) override;
  void stop() override { routes_.clear(); }
  [[nodiscard]] std::string identity_kind() const override { return "wecom"; }
  [[nodiscard]] bool can_send_personal() const override { return settings_.app(); }
  [[nodiscard]] bool can_send_group() const override { return !settings_.robots.empty(); }
  [[nodiscard]] std::vector<GroupChat> group_chats() const override;
  SendResult send(const OutboundMessage& message) override;
  [[nodiscard]] nlohmann::json health() const override;

 private:
  SendResult send_group(const OutboundMessage& message);
  SendResult send_personal(const OutboundMessage& message);
  // The cached access token, fetched when there is none (or `refresh`); "" with *error set.
  std::string access_token(bool refresh, std::string* error);
  void handle(const HttpRequest& request, const Responder& respond);

  WecomSettings settings_;
  AdapterContext* context_ = nullptr;
  std::vector<Registration> routes_;
  std::mutex token_mutex_;
  std::string token_;
  std::chrono::steady_clock::time_point token_expires_{};
  std::atomic<std::int64_t> tokens_fetched_{0};
};

}  // namespace villagebot::adapters
