#pragma once
// A mock SMS/chat gateway for the delivery-engine tests and benchmarks: a real
// HTTP/1.1 server on 127.0.0.1 (keep-alive, many connections, its own threads)
// that accepts `POST <any path>` with a JSON body, records every message it
// accepted and answers 200 {"id":"mock-<n>"}; latency, 500s, 429s, 400s, hung
// requests, lost replies and whole-process crashes are controllable while it runs.
// Test code, not an adapter. Beast-free header.
//
// What it reads from a request:
//   recipient        JSON "to", else "recipient", else "address", else "chat", else "sender"
//                    (the generic webhook's reply_url body has "recipient" or "chat")
//   text             JSON "text"
//   idempotency key  header Idempotency-Key, else JSON "idempotency_key", else JSON
//                    "message_id" (the generic webhook sends its key as "message_id")
// A body that is not a JSON object is answered 400 and not recorded; another method 405.
//
// Every request draws one number from a seeded std::mt19937 and falls into one of
// the fault bands, in this order: timeout, 500, 429, 400, lost reply; the rest is
// accepted. With one client connection at a time the sequence of outcomes is exactly
// reproducible for a seed; with many, only the proportions are.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace villagebot::testkit {

// One message the gateway accepted (answered 200 and recorded).
struct GatewayMessage {
  std::string recipient;
  std::string text;
  std::string idempotency_key;                          // empty when the request had none
  std::string provider_id;                              // "mock-<n>", the id in the answer
  std::string target;                                   // the request path (and query)
  std::string body;                                     // the raw request body
  std::map<std::string, std::string> headers;           // lower-case names
  std::chrono::steady_clock::time_point received;       // the request was complete
  std::chrono::system_clock::time_point received_wall;  // the same instant, wall clock
};

// The controls; all may be changed while the gateway runs (set_faults or the setters).
// Rates are fractions in [0, 1]; their sum should not exceed 1 (later bands are cut).
struct GatewayFaults {
  std::chrono::milliseconds latency{0};  // before every answer (also 4xx/5xx)
  std::chrono::milliseconds jitter{0};   // plus uniform [0, jitter]
  double timeout_rate = 0;               // never answered: held open until the client or gateway closes
  double error_rate_500 = 0;             // 500 {"error":"internal"}
  double rate_429 = 0;                   // 429 with Retry-After: retry_after_s
  int retry_after_s = 1;
  double permanent_error_rate_400 = 0;     // 400 {"error":"rejected","reason":...}
  double lost_reply_rate = 0;              // recorded as accepted, then the connection is reset unanswered
  bool dedupe_by_idempotency_key = false;  // a known key: 200 with the original id, not recorded again
};

// How every request ended so far.
struct GatewayCounts {
  std::size_t requests = 0;      // every complete request, whatever became of it
  std::size_t accepted = 0;      // recorded (including lost replies)
  std::size_t deduplicated = 0;  // answered with an earlier id, not recorded
  std::size_t errors_500 = 0;
  std::size_t rate_limited_429 = 0;
  std::size_t rejected_400 = 0;  // fault band and malformed bodies
  std::size_t timeouts = 0;      // held unanswered
  std::size_t lost_replies = 0;  // recorded, connection reset unanswered
  std::size_t connections = 0;   // accepted TCP connections
};

struct MockGatewayOptions {
  unsigned threads = 2;    // network threads
  std::uint32_t seed = 1;  // std::mt19937 seed
  std::uint16_t port = 0;  // 0: ephemeral
  GatewayFaults faults{};
};

class MockGateway {
 public:
  MockGateway();
  explicit MockGateway(MockGatewayOptions options);
  ~MockGateway();  // closes everything (held requests included) and joins its threads
  MockGateway(const MockGateway&) = delete;
  MockGateway& operator=(const MockGateway&) = delete;

  [[nodiscard]] int port() const;
  [[nodiscard]] std::string url(const std::string& path = "/") const;  // http://127.0.0.1:<port><path>

  // Controls (thread-safe, effective for the next request).
  void set_faults(const GatewayFaults& faults);
  [[nodiscard]] GatewayFaults faults() const;
  void set_latency(std::chrono::milliseconds latency, std::chrono::milliseconds jitter = {});
  void set_error_rate_500(double rate);
  void set_timeout_rate(double rate);
  void set_rate_429(double rate, int retry_after_s = 1);
  void set_permanent_error_rate_400(double rate);
  void set_lost_reply_rate(double rate);
  void set_dedupe_by_idempotency_key(bool on);
  void set_seed(std::uint32_t seed);  // restarts the random sequence

  // Like a killed process: the listening socket and every open connection are
  // closed at once with a reset (held and delayed requests included; a delayed
  // request is then not recorded). Connecting is refused until restart(), which
  // listens again on the same port. The port stays bound meanwhile (not listening),
  // so that no other process on the machine can take it. Both return when done;
  // both are idempotent.
  void crash();
  void restart();
  [[nodiscard]] bool listening() const;

  // Queries (thread-safe).
  [[nodiscard]] std::size_t accepted() const;
  [[nodiscard]] std::size_t accepted_for(const std::string& recipient) const;
  [[nodiscard]] std::map<std::string, std::size_t> recipients() const;  // recipient → messages
  [[nodiscard]] std::vector<GatewayMessage> messages() const;           // in the order recorded
  [[nodiscard]] std::size_t requests_total() const;                     // including failed ones
  // When each complete request arrived (any outcome), in the order they arrived.
  [[nodiscard]] std::vector<std::chrono::steady_clock::time_point> request_times() const;
  [[nodiscard]] GatewayCounts counts() const;
  // Recipients that received more than one message, with their counts.
  [[nodiscard]] std::map<std::string, std::size_t> duplicates() const;
  // Idempotency keys recorded more than once (only possible without dedupe), with their counts.
  [[nodiscard]] std::map<std::string, std::size_t> duplicate_keys() const;
  // Waits until at least n messages were accepted (or requests arrived); false on timeout.
  bool wait_for_accepted(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // Accepted messages per second over the last `window`.
  [[nodiscard]] double rate_over(std::chrono::milliseconds window) const;
  // The most requests (any outcome) that arrived within any one `window`: checks a sender's rate limit.
  [[nodiscard]] std::size_t max_requests_in_window(std::chrono::milliseconds window) const;
  // Requests read but not yet answered (held ones included), now and at most so far.
  [[nodiscard]] std::size_t in_flight() const;
  [[nodiscard]] std::size_t max_in_flight() const;
  // Forgets messages, counts and known idempotency keys (the faults and the id counter stay).
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace villagebot::testkit
