#pragma once
#include <functional>
#include <string>
#include <vector>

#include <spdlog/logger.h>
#include <nlohmann/json.hpp>

#include "villagebot/command.hpp"
#include "villagebot/config.hpp"
#include "villagebot/http.hpp"
#include "villagebot/http_client.hpp"
#include "villagebot/message.hpp"
#include "villagebot/storage.hpp"

namespace villagebot {

// The pipeline's answer to one submitted message.
struct SubmitResult {
  enum class Status {
    processed,     // replies hold the answer
    duplicate,     // seen before: replies hold what was answered then, if anything
    rate_limited,  // replies hold the one "too fast" notice, or nothing (silence)
    rejected,      // invalid message (error says why); nothing stored
    unavailable,   // could not be stored (database fault): the sender should retry
  };
  Status status = Status::processed;
  Replies replies;
  std::string error;
};

// A group chat an adapter posts to, declared in its config: the core registers it (as the
// /api/v1/group-chats API does) so that group-first delivery knows whom a post reaches.
struct GroupChat {
  std::string chat_id;   // the adapter's address for the group (what send() gets as address)
  std::string name;      // for people: 一组村民群
  std::string org_unit;  // the org unit path whose people are in it (一组, 一组/东院); "" none
};

class AdapterContext {
 public:
  virtual ~AdapterContext() = default;
  [[nodiscard]] virtual const std::string& id() const = 0;
  // Hands a message to the pipeline; `done` runs once, on a pipeline thread.
  // Once `done` reports processed, duplicate or rate_limited the message is durable.
  virtual void submit(InboundMessage message, std::function<void(SubmitResult)> done) = 0;
  // Paths are relative to /hooks/<adapter id>/ and are public: verify signatures.
  virtual RouteRegistry& routes() = 0;
  virtual HttpClient& http_client() = 0;
  virtual spdlog::logger& logger() = 0;
  // A delivery receipt from the platform (status callback) for a message this
  // adapter sent: provider_id is what send() returned in SendResult.
  virtual void report_delivery(const std::string& provider_id, bool delivered, const std::string& error = {}) = 0;
  // The same, and `stored` runs (on the storage thread) once the receipt is written (true) or could
  // not be (false): a gateway that pushes receipts is answered only then, so that a crash between
  // the answer and the write loses no receipt (the gateway pushes it again).
  virtual void report_delivery_stored(const std::string& provider_id, bool delivered, const std::string& error,
                                      std::function<void(bool stored)> stored) = 0;
  // For interactive adapters: ask the process to stop (e.g. end of input).
  virtual void request_shutdown() = 0;
  // Replies to a submitted message through this adapter's own send(), as messages of the
  // durable outbox (retried, rate-limited, kept across a crash): for platforms whose callbacks
  // take no answer in their response. They go to the message's chat (a group message) or to
  // its sender.
  virtual void reply(const InboundMessage& to, const Replies& replies) = 0;
  // The database, for what an adapter must keep across a crash (the parts of a concatenated SMS
  // received so far, say). An adapter applies its own migrations in start(), under the module
  // name "adapter.<type>".
  virtual Storage& storage() = 0;
  // The gateway says this address refuses messages (Twilio's 21610 after the person texted STOP
  // to the carrier): the person whose identity of this adapter's kind it is gets opted out of
  // non-essential messages, as if they had texted 退订. Unknown addresses are ignored.
  virtual void opt_out(const std::string& address) = 0;
};

class Adapter {
 public:
  virtual ~Adapter() = default;
  // Read and validate the adapter's own [[adapters]] entry (id and type are the core's).
  virtual void configure(ConfigSection& /*config*/) {}
  virtual void start(AdapterContext& context) = 0;
  virtual void stop() {}
  // What `sender` and personal addresses are: "phone" or a platform id kind.
  [[nodiscard]] virtual std::string identity_kind() const { return "phone"; }
  // SMS honours opt-out (退订) for non-essential messages and quiet hours.
  [[nodiscard]] virtual bool is_sms() const { return false; }
  // The signature in front of every SMS (【幸福村】): added by this adapter or by the carrier,
  // either way counted in the parts a message costs (the plan's sms_segments).
  [[nodiscard]] virtual std::string sms_signature() const { return {}; }
  // What send() can reach: a person (SMS, private chat) and/or a group chat
  // (a group robot posts only to its group).
  [[nodiscard]] virtual bool can_send_personal() const { return true; }
  [[nodiscard]] virtual bool can_send_group() const { return false; }
  // The group chats this adapter's config declares (registered by the core after start()).
  [[nodiscard]] virtual std::vector<GroupChat> group_chats() const { return {}; }
  // Blocking send, called on a worker thread.
  virtual SendResult send(const OutboundMessage& message) = 0;
  [[nodiscard]] virtual nlohmann::json health() const { return {{"state", "running"}}; }
};

}  // namespace villagebot
