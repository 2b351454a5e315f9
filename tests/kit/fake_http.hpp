#pragma once
// A real HTTP/1.1 server on 127.0.0.1 (port 0) that records what it receives
// and answers with a chosen status: the stand-in for a gateway or reply_url.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace villagebot::testkit {

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

class FakeHttpServer {
 public:
  explicit FakeHttpServer(int status = 200, std::string body = "{}");
  ~FakeHttpServer();
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string url(const std::string& path = "/") const;
  // Waits until at least n requests arrived; returns a copy of all of them.
  std::vector<ReceivedRequest> wait_for(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void set_status(int status) { status_ = status; }

 private:
  void serve();
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<int> status_;
  std::string body_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<ReceivedRequest> received_;
  std::thread thread_;
};

}  // namespace villagebot::testkit
