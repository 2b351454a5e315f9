#pragma once
// A real HTTP/1.1 server on 127.0.0.1 (port 0) that records what it receives and answers with
// a chosen status, or with what a handler decides: the stand-in for a gateway, a reply_url or a
// chat platform's API. With a certificate and key it speaks HTTPS (see tls.hpp for a test CA);
// with keep_alive it serves several requests per connection, each connection on its own thread.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace villagebot::testkit {

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

struct FakeResponse {
  int status = 200;
  std::string body = "{}";
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers{};
};

struct FakeHttpOptions {
  int status = 200;
  std::string body = "{}";
  // When set, answers every request (status and body above are then unused).
  std::function<FakeResponse(const ReceivedRequest&)> handler{};
  std::string cert_file{}, key_file{};  // both set: HTTPS
  bool keep_alive = false;              // false: every answer closes the connection
};

class FakeHttpServer {
 public:
  explicit FakeHttpServer(int status = 200, std::string body = "{}");
  explicit FakeHttpServer(FakeHttpOptions options);
  ~FakeHttpServer();
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  [[nodiscard]] int port() const { return port_; }
  // http://127.0.0.1:<port><path>, or https://… in TLS mode.
  [[nodiscard]] std::string url(const std::string& path = "/") const;
  // Waits until at least n requests arrived; returns a copy of all of them.
  std::vector<ReceivedRequest> wait_for(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void set_status(int status) { status_ = status; }
  // Connections accepted, and TLS handshakes that failed (a client that did not trust us).
  [[nodiscard]] int connections() const { return connections_; }
  [[nodiscard]] int handshake_failures() const { return handshake_failures_; }

 private:
  struct Tls;
  void serve();
  void handle(int fd);
  FakeHttpOptions options_;
  Tls* tls_ = nullptr;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<int> status_;
  std::atomic<int> connections_{0};
  std::atomic<int> handshake_failures_{0};
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<ReceivedRequest> received_;
  std::vector<std::thread> handlers_;
  std::thread thread_;
};

}  // namespace villagebot::testkit
