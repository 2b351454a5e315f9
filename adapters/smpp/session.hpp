#pragma once
// An SMPP 3.4 transceiver session (ESME side) on its own io_context thread: connect, bind,
// a window of outstanding submit_sm, enquire_link both ways, reconnect with exponential backoff,
// throttling (ESME_RTHROTTLED / ESME_RMSGQFUL) answered by pausing and shrinking the window,
// unbind on stop. submit() blocks the calling (delivery worker) thread, never the network thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <spdlog/logger.h>
#include <nlohmann/json.hpp>

#include "pdu.hpp"

namespace villagebot::smpp {

struct SessionSettings {
  std::string host = "127.0.0.1";
  std::uint16_t port = 2775;
  std::string system_id;
  std::string password;
  std::string system_type;
  std::uint8_t addr_ton = 0;
  std::uint8_t addr_npi = 0;
  std::string address_range;
  int window = 10;                                    // submit_sm outstanding at once
  std::chrono::milliseconds enquire_link{30000};      // keep-alive period
  std::chrono::milliseconds response_timeout{10000};  // for any response we wait for
  std::chrono::milliseconds connect_timeout{5000};    // TCP connect and bind each
  std::chrono::milliseconds reconnect_min{1000};      // backoff after a drop or a refused bind
  std::chrono::milliseconds reconnect_max{60000};
  std::chrono::milliseconds throttle_delay{1000};  // pause after ESME_RTHROTTLED / ESME_RMSGQFUL
  int throttle_retries = 5;                        // then the delivery engine retries later
  std::chrono::milliseconds bind_wait{10000};      // how long submit() waits for a bound session
  std::chrono::milliseconds unbind_timeout{1000};
};

struct SubmitOutcome {
  enum class Kind {
    ok,            // accepted: message_id
    refused,       // the SMSC answered with an error status
    throttled,     // still throttled after the retries
    disconnected,  // the connection ended before the answer: the SMSC may or may not have it
    timeout,       // no answer within response_timeout
    not_bound,     // no bound session within bind_wait (error says why)
    invalid,       // the PDU cannot be encoded (a field too long)
    stopped,
  };
  Kind kind = Kind::ok;
  std::uint32_t status = 0;
  std::string message_id;
  std::string error;
};

// Answers a deliver_sm (command_status), from any thread, once.
using Respond = std::function<void(std::uint32_t status)>;
// A deliver_sm from the SMSC, on the network thread: hand it to another thread and answer later.
// `connection` numbers the TCP connections of this process (1, 2, ...).
using DeliverHandler = std::function<void(Pdu pdu, std::uint64_t connection, Respond respond)>;

class Session {
 public:
  Session(SessionSettings settings, DeliverHandler on_deliver, std::shared_ptr<spdlog::logger> logger);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start();
  // Unbinds (waits up to unbind_timeout for unbind_resp), closes, joins the thread.
  void stop();
  // Sends one submit_sm (its sequence number is set here) and waits for its submit_sm_resp.
  SubmitOutcome submit(Pdu pdu);
  [[nodiscard]] nlohmann::json health() const;
  [[nodiscard]] bool bound() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace villagebot::smpp
