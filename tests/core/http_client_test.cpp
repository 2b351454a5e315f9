// The outbound HTTP client: keep-alive reuse per host:port, a pool bounded by the
// callers, and what happens when a server closes a kept-alive connection — against
// the mock gateway and a raw socket server on 127.0.0.1.
#include "http/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mock_gateway.hpp"

namespace villagebot::http {
namespace {

using namespace std::chrono_literals;

ClientRequest post_to(const std::string& url, const std::string& to, bool with_key = true) {
  ClientRequest r;
  r.url = url;
  r.body = nlohmann::json{{"to", to}, {"text", "明天停水"}}.dump();
  r.headers = {{"Content-Type", "application/json"}};
  if (with_key) r.headers.emplace_back("Idempotency-Key", "k-" + to);
  r.timeout = 5s;
  return r;
}

// A one-thread HTTP/1.1 server on raw sockets whose connection behaviour the test
// chooses: `answers_per_connection` requests are answered 200 with keep-alive, the
// next one on the same connection is read and the connection closed without an
// answer (a server's idle-close racing the client's request).
class ClosingServer {
 public:
  explicit ClosingServer(int answers_per_connection) : answers_(answers_per_connection) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd_, 16) != 0)
      throw std::runtime_error("cannot listen");
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~ClosingServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  ClosingServer(const ClosingServer&) = delete;
  ClosingServer& operator=(const ClosingServer&) = delete;

  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/send"; }
  int connections() const { return connections_.load(); }
  int requests_read() const { return requests_.load(); }
  int answered() const { return answered_.load(); }

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      ++connections_;
      serve(c);
      close(c);
    }
  }
  // Reads one request (headers and a Content-Length body); false at EOF.
  bool read_request(int c, std::string& buffer) {
    for (;;) {
      const auto end = buffer.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::size_t length = 0;
        const auto at = buffer.find("Content-Length: ");
        if (at != std::string::npos && at < end) length = std::stoul(buffer.substr(at + 16));
        if (buffer.size() >= end + 4 + length) {
          buffer.erase(0, end + 4 + length);
          ++requests_;
          return true;
        }
      }
      char chunk[4096];
      pollfd p{c, POLLIN, 0};
      if (poll(&p, 1, 2000) <= 0) return false;
      const ssize_t n = recv(c, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buffer.append(chunk, static_cast<std::size_t>(n));
    }
  }
  void serve(int c) {
    std::string buffer;
    for (int i = 0; i < answers_; ++i) {
      if (!read_request(c, buffer)) return;
      const std::string body = R"({"id":"raw-)" + std::to_string(++answered_) + R"("})";
      const std::string reply =
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
          "Content-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body;
      if (send(c, reply.data(), reply.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(reply.size())) return;
    }
    read_request(c, buffer);  // read, never answered: the close races the request
  }

  int answers_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0}, requests_{0}, answered_{0};
  std::thread thread_;
};

TEST(HttpClientTest, SequentialRequestsShareOneKeptAliveConnection) {
  testkit::MockGateway gw;
  BeastHttpClient client;
  for (int i = 0; i < 50; ++i) {
    const auto res = client.request(post_to(gw.url("/send"), "1380000" + std::to_string(1000 + i)));
    ASSERT_EQ(res.status, 200) << res.error;
  }
  EXPECT_EQ(gw.accepted(), 50U);
  EXPECT_EQ(gw.counts().connections, 1U);
  const auto s = client.stats();
  EXPECT_EQ(s.connections_opened, 1U);
  EXPECT_EQ(s.reused, 49U);
  EXPECT_EQ(s.idle, 1U);
}

TEST(HttpClientTest, ConcurrentCallersOpenAtMostOneConnectionEach) {
  testkit::MockGateway gw;
  gw.set_latency(2ms);
  BeastHttpClient client;
  constexpr int kThreads = 8;
  constexpr int kEach = 40;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i)
        if (client.request(post_to(gw.url("/send"), std::to_string(t * 1000 + i))).status == 200) ++ok;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kEach);
  EXPECT_EQ(gw.accepted(), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_LE(gw.counts().connections, static_cast<std::size_t>(kThreads));
  EXPECT_LE(client.stats().idle, static_cast<std::size_t>(kThreads));
}

TEST(HttpClientTest, PoolSizeZeroClosesEveryConnection) {
  testkit::MockGateway gw;
  BeastHttpClient client(HttpClientOptions{.max_idle_per_host = 0});
  for (int i = 0; i < 5; ++i) ASSERT_EQ(client.request(post_to(gw.url("/send"), std::to_string(i))).status, 200);
  EXPECT_EQ(gw.counts().connections, 5U);
  EXPECT_EQ(client.stats().idle, 0U);
}

TEST(HttpClientTest, ConnectionCloseFromTheCallerIsHonoured) {
  testkit::MockGateway gw;
  BeastHttpClient client;
  for (int i = 0; i < 3; ++i) {
    auto req = post_to(gw.url("/send"), std::to_string(i));
    req.headers.emplace_back("Connection", "close");
    ASSERT_EQ(client.request(req).status, 200);
  }
  EXPECT_EQ(gw.counts().connections, 3U);
}

TEST(HttpClientTest, AConnectionTheGatewayDroppedIsReplacedNotReported) {
  testkit::MockGateway gw;
  BeastHttpClient client;
  ASSERT_EQ(client.request(post_to(gw.url("/send"), "a")).status, 200);
  // The gateway restarts: the pooled connection is dead before the next request.
  gw.crash();
  gw.restart();
  const auto res = client.request(post_to(gw.url("/send"), "b"));
  EXPECT_EQ(res.status, 200) << res.error;
  EXPECT_EQ(gw.accepted_for("b"), 1U);
}

TEST(HttpClientTest, AnIdleCloseRacingAReplayableRequestIsRetriedOnce) {
  ClosingServer server(1);  // one answer per connection, then the next request is dropped
  BeastHttpClient client;
  ASSERT_EQ(client.request(post_to(server.url(), "1")).status, 200);
  const auto res = client.request(post_to(server.url(), "2"));  // Idempotency-Key: safe to resend
  EXPECT_EQ(res.status, 200) << res.error;
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.requests_read(), 3);  // the dropped one was read: the key lets the gateway dedupe it
  EXPECT_EQ(server.answered(), 2);
}

TEST(HttpClientTest, AnIdleCloseRacingAPlainPostIsReportedNotResent) {
  ClosingServer server(1);
  BeastHttpClient client;
  ASSERT_EQ(client.request(post_to(server.url(), "1", false)).status, 200);
  const auto res = client.request(post_to(server.url(), "2", false));  // no key: never sent twice
  EXPECT_EQ(res.status, 0);
  EXPECT_NE(res.error.find("no valid response"), std::string::npos) << res.error;
  EXPECT_EQ(server.requests_read(), 2);
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClientTest, ATimeoutOnAKeptAliveConnectionStillFiresAndTheConnectionIsNotReused) {
  testkit::MockGateway gw;
  BeastHttpClient client;
  ASSERT_EQ(client.request(post_to(gw.url("/send"), "a")).status, 200);
  gw.set_timeout_rate(1.0);
  auto req = post_to(gw.url("/send"), "b");
  req.timeout = 300ms;
  const auto start = std::chrono::steady_clock::now();
  const auto res = client.request(req);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(res.status, 0);
  EXPECT_NE(res.error.find("timed out"), std::string::npos) << res.error;
  EXPECT_LT(took, 3s);
  gw.set_timeout_rate(0);
  ASSERT_EQ(client.request(post_to(gw.url("/send"), "c")).status, 200);
  EXPECT_EQ(gw.counts().connections, 2U);  // the timed-out one was closed, a new one opened
}

TEST(HttpClientTest, BadUrlsAndRefusedConnectionsAreClearErrors) {
  BeastHttpClient client;
  for (const char* url : {"ftp://x/", "http://", "http://127.0.0.1:99999/", "http://127.0.0.1:abc/", "http://[::1/"}) {
    ClientRequest r;
    r.url = url;
    const auto res = client.request(r);
    EXPECT_EQ(res.status, 0) << url;
    EXPECT_FALSE(res.error.empty()) << url;
  }
  // A port nobody listens on.
  testkit::MockGateway gw;
  const std::string url = gw.url("/send");
  gw.crash();
  const auto res = client.request(post_to(url, "x"));
  EXPECT_EQ(res.status, 0);
  EXPECT_NE(res.error.find("cannot connect"), std::string::npos) << res.error;
}

TEST(HttpClientTest, AResponseOverTheLimitIsRefused) {
  testkit::MockGateway gw;
  BeastHttpClient client(HttpClientOptions{.response_limit = 8});
  const auto res = client.request(post_to(gw.url("/send"), "x"));
  EXPECT_EQ(res.status, 0);
  EXPECT_FALSE(res.error.empty());
}

}  // namespace
}  // namespace villagebot::http
