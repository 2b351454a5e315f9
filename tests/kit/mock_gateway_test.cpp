// The mock gateway of the delivery-engine tests: recording, fault fractions,
// timeouts, crash/restart, dedupe and a throughput figure.
#include "mock_gateway.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/http_client.hpp"

namespace villagebot::testkit {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

ClientResponse post(const std::string& url, const nlohmann::json& body,
                    std::vector<std::pair<std::string, std::string>> headers = {},
                    std::chrono::milliseconds timeout = 5s) {
  http::BeastHttpClient client;
  ClientRequest req;
  req.url = url;
  req.body = body.dump();
  req.headers = std::move(headers);
  req.headers.emplace_back("Content-Type", "application/json");
  req.timeout = timeout;
  return client.request(req);
}

std::string header(const ClientResponse& res, const std::string& name) {
  for (const auto& [k, v] : res.headers) {
    if (k.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < k.size(); ++i) same = same && std::tolower(k[i]) == std::tolower(name[i]);
    if (same) return v;
  }
  return {};
}

// A blocking HTTP/1.1 keep-alive connection over a raw socket: one request, one
// response, repeat. status 0: the connection failed (closed, reset, refused).
class RawConnection {
 public:
  struct Response {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
  };

  explicit RawConnection(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd_);
      fd_ = -1;
      return;
    }
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~RawConnection() {
    if (fd_ >= 0) close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  [[nodiscard]] bool connected() const { return fd_ >= 0; }

  Response post(const std::string& body, const std::string& extra_headers = {}) {
    Response out;
    if (fd_ < 0) return out;
    const std::string request = "POST /send HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
                                extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    std::size_t sent = 0;
    while (sent < request.size()) {
      const ssize_t n = send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return out;
      sent += static_cast<std::size_t>(n);
    }
    std::size_t header_end = std::string::npos;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return out;
    const std::string head = buffer_.substr(0, header_end);
    std::size_t pos = head.find("\r\n");
    const std::string status_line = head.substr(0, pos);
    out.status = std::stoi(status_line.substr(status_line.find(' ') + 1, 3));
    while (pos != std::string::npos && pos + 2 < head.size()) {
      const std::size_t end = head.find("\r\n", pos + 2);
      const std::string line = head.substr(pos + 2, end == std::string::npos ? std::string::npos : end - pos - 2);
      const std::size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      out.headers[name] = value;
      pos = end;
    }
    const std::size_t length = std::stoul(out.headers["content-length"]);
    while (buffer_.size() < header_end + 4 + length)
      if (!fill()) return Response{};
    out.body = buffer_.substr(header_end + 4, length);
    buffer_.erase(0, header_end + 4 + length);
    return out;
  }

  // Waits up to `timeout` for the peer to close; true when it closed (EOF or reset).
  bool closed_by_peer(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char c = 0;
    return recv(fd_, &c, 1, 0) <= 0;
  }

 private:
  bool fill() {
    char chunk[16384];
    const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buffer_;
};

std::string message_body(int n) {
  return nlohmann::json{{"to", "1380000" + std::to_string(1000 + n % 500)}, {"text", "通知 " + std::to_string(n)}}
      .dump();
}

TEST(MockGateway, AcceptsAndRecordsMessages) {
  MockGateway gw;
  EXPECT_EQ(gw.url("/sms"), "http://127.0.0.1:" + std::to_string(gw.port()) + "/sms");
  EXPECT_GT(gw.port(), 0);
  EXPECT_TRUE(gw.listening());

  const auto before = std::chrono::system_clock::now();
  auto r1 = post(gw.url("/sms/send"), {{"to", "13800000001"}, {"text", "明天停水"}}, {{"Idempotency-Key", "k-1"}});
  ASSERT_EQ(r1.status, 200) << r1.error;
  EXPECT_EQ(nlohmann::json::parse(r1.body), (nlohmann::json{{"id", "mock-1"}}));
  // The generic webhook's reply_url body: the key is "message_id", the recipient "recipient".
  auto r2 = post(gw.url("/reply"), {{"message_id", "vb-7"}, {"text", "已收到"}, {"recipient", "13800000002"}});
  ASSERT_EQ(r2.status, 200) << r2.error;
  EXPECT_EQ(nlohmann::json::parse(r2.body)["id"], "mock-2");
  auto r3 = post(gw.url("/"), {{"address", "wx-abc"}, {"text", "a"}, {"idempotency_key", "k-3"}});
  auto r4 = post(gw.url("/"), {{"sender", "13800000001"}, {"text", "b"}});
  auto r5 = post(gw.url("/"), {{"chat", "group-9"}, {"text", "c"}});
  EXPECT_EQ(r3.status, 200);
  EXPECT_EQ(r4.status, 200);
  EXPECT_EQ(r5.status, 200);

  // Not recorded: not JSON, not an object, not POST.
  http::BeastHttpClient client;
  ClientRequest bad;
  bad.url = gw.url("/");
  bad.body = "to=1380";
  EXPECT_EQ(client.request(bad).status, 400);
  bad.body = "[1,2]";
  EXPECT_EQ(client.request(bad).status, 400);
  bad.method = "GET";
  bad.body.clear();
  EXPECT_EQ(client.request(bad).status, 405);

  EXPECT_TRUE(gw.wait_for_accepted(5, 1s));
  EXPECT_EQ(gw.accepted(), 5U);
  EXPECT_EQ(gw.requests_total(), 8U);
  EXPECT_EQ(gw.accepted_for("13800000001"), 2U);
  EXPECT_EQ(gw.accepted_for("13800000002"), 1U);
  EXPECT_EQ(gw.accepted_for("nobody"), 0U);
  EXPECT_EQ(gw.recipients(), (std::map<std::string, std::size_t>{
                                 {"13800000001", 2}, {"13800000002", 1}, {"wx-abc", 1}, {"group-9", 1}}));
  EXPECT_EQ(gw.duplicates(), (std::map<std::string, std::size_t>{{"13800000001", 2}}));
  EXPECT_TRUE(gw.duplicate_keys().empty());

  const auto msgs = gw.messages();
  ASSERT_EQ(msgs.size(), 5U);
  EXPECT_EQ(msgs[0].recipient, "13800000001");
  EXPECT_EQ(msgs[0].text, "明天停水");
  EXPECT_EQ(msgs[0].idempotency_key, "k-1");
  EXPECT_EQ(msgs[0].provider_id, "mock-1");
  EXPECT_EQ(msgs[0].target, "/sms/send");
  EXPECT_EQ(msgs[0].headers.at("idempotency-key"), "k-1");
  EXPECT_GE(msgs[0].received_wall, before - 1s);
  EXPECT_LE(msgs[0].received, msgs[1].received);
  EXPECT_EQ(msgs[1].idempotency_key, "vb-7");
  EXPECT_EQ(msgs[1].recipient, "13800000002");
  EXPECT_EQ(msgs[2].idempotency_key, "k-3");
  EXPECT_EQ(msgs[2].recipient, "wx-abc");
  EXPECT_EQ(msgs[3].idempotency_key, "");
  EXPECT_EQ(msgs[4].recipient, "group-9");

  const auto c = gw.counts();
  EXPECT_EQ(c.requests, 8U);
  EXPECT_EQ(c.accepted, 5U);
  EXPECT_EQ(c.rejected_400, 3U);
  EXPECT_GE(c.connections, 1U);
  EXPECT_GT(gw.rate_over(60s), 0.0);
  EXPECT_EQ(gw.max_requests_in_window(60s), 8U);

  gw.reset();
  EXPECT_EQ(gw.accepted(), 0U);
  EXPECT_EQ(gw.requests_total(), 0U);
  EXPECT_TRUE(gw.messages().empty());
  // The id counter goes on, like a real provider's.
  EXPECT_EQ(nlohmann::json::parse(post(gw.url("/"), {{"to", "x"}, {"text", "y"}}).body)["id"], "mock-6");
}

TEST(MockGateway, FaultFractionsFollowTheSeed) {
  MockGateway gw({.seed = 42});
  RawConnection conn(gw.port());
  ASSERT_TRUE(conn.connected());

  gw.set_error_rate_500(0.3);
  int e500 = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto r = conn.post(message_body(i));
    ASSERT_TRUE(r.status == 200 || r.status == 500) << r.status;
    if (r.status == 500) ++e500;
  }
  EXPECT_GE(e500, 250);
  EXPECT_LE(e500, 350);
  EXPECT_EQ(gw.accepted(), static_cast<std::size_t>(1000 - e500));
  EXPECT_EQ(gw.counts().errors_500, static_cast<std::size_t>(e500));

  gw.set_error_rate_500(0);
  gw.set_rate_429(0.2, 7);
  int e429 = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto r = conn.post(message_body(i));
    ASSERT_TRUE(r.status == 200 || r.status == 429) << r.status;
    if (r.status == 429) {
      ++e429;
      ASSERT_EQ(r.headers.count("retry-after"), 1U);
      EXPECT_EQ(r.headers.at("retry-after"), "7");
    }
  }
  EXPECT_GE(e429, 150);
  EXPECT_LE(e429, 250);

  gw.set_rate_429(0);
  gw.set_permanent_error_rate_400(0.1);
  int e400 = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto r = conn.post(message_body(i));
    ASSERT_TRUE(r.status == 200 || r.status == 400) << r.status;
    if (r.status == 400) {
      ++e400;
      const auto doc = nlohmann::json::parse(r.body);
      EXPECT_EQ(doc["error"], "rejected");
      EXPECT_FALSE(doc["reason"].get<std::string>().empty());
    }
  }
  EXPECT_GE(e400, 60);
  EXPECT_LE(e400, 140);

  const auto c = gw.counts();
  EXPECT_EQ(c.requests, 3000U);
  EXPECT_EQ(c.connections, 1U);  // keep-alive across every answer, errors included
  EXPECT_EQ(c.accepted, 3000U - static_cast<std::size_t>(e500 + e429 + e400));

  // The project's client sees the Retry-After header too.
  gw.set_permanent_error_rate_400(0);
  gw.set_rate_429(1.0, 3);
  const auto r = post(gw.url("/"), {{"to", "1"}, {"text", "x"}});
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(header(r, "Retry-After"), "3");
}

TEST(MockGateway, SameSeedSameOutcomes) {
  auto run = [](std::uint32_t seed) {
    MockGateway gw({.seed = seed, .faults = {.error_rate_500 = 0.2, .rate_429 = 0.1, .permanent_error_rate_400 = 0.1}});
    RawConnection conn(gw.port());
    std::vector<int> statuses;
    for (int i = 0; i < 200; ++i) statuses.push_back(conn.post(message_body(i)).status);
    return statuses;
  };
  const auto a = run(7);
  EXPECT_EQ(a, run(7));
  EXPECT_NE(a, run(8));
}

TEST(MockGateway, LatencyDelaysEveryAnswer) {
  MockGateway gw;
  gw.set_latency(150ms, 50ms);
  const auto t0 = Clock::now();
  const auto r = post(gw.url("/"), {{"to", "1"}, {"text", "x"}});
  const auto took = Clock::now() - t0;
  EXPECT_EQ(r.status, 200);
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 2s);

  // Concurrent requests overlap (they are not queued behind each other).
  gw.set_latency(300ms);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  const auto t1 = Clock::now();
  for (int i = 0; i < 8; ++i)
    clients.emplace_back([&, i] {
      if (post(gw.url("/"), {{"to", std::to_string(i)}, {"text", "x"}}).status == 200) ++ok;
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok, 8);
  // One after another they would take 8 × 300 ms = 2.4 s; a loaded machine (ASan, a parallel
  // build) has been seen to need 2.03 s overlapped, so the overlap itself is what is asserted.
  EXPECT_LT(Clock::now() - t1, 2400ms);
  EXPECT_GE(gw.max_in_flight(), 2U);
  EXPECT_EQ(gw.in_flight(), 0U);
}

TEST(MockGateway, TimeoutsMakeTheClientGiveUp) {
  MockGateway gw;
  gw.set_timeout_rate(1.0);
  const auto t0 = Clock::now();
  const auto r = post(gw.url("/"), {{"to", "1"}, {"text", "x"}}, {}, 300ms);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("timed out"), std::string::npos) << r.error;
  EXPECT_GE(Clock::now() - t0, 300ms);
  EXPECT_EQ(gw.accepted(), 0U);
  EXPECT_EQ(gw.counts().timeouts, 1U);
  EXPECT_EQ(gw.requests_total(), 1U);
  // The client gave up and closed: the gateway lets go of the request.
  for (int i = 0; i < 100 && gw.in_flight() != 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(gw.in_flight(), 0U);

  gw.set_timeout_rate(0);
  EXPECT_EQ(post(gw.url("/"), {{"to", "1"}, {"text", "x"}}).status, 200);
  EXPECT_EQ(gw.accepted(), 1U);

  // A held request when the gateway goes away ends at once, not at the client's timeout.
  auto held = std::make_unique<MockGateway>();
  held->set_timeout_rate(1.0);
  ClientResponse late;
  std::thread client([&, url = held->url("/")] { late = post(url, {{"to", "1"}, {"text", "x"}}, {}, 10s); });
  ASSERT_TRUE(held->wait_for_requests(1, 5s));
  EXPECT_EQ(held->in_flight(), 1U);
  const auto t1 = Clock::now();
  held.reset();
  client.join();
  EXPECT_EQ(late.status, 0);
  EXPECT_LT(Clock::now() - t1, 5s);
}

TEST(MockGateway, CrashAndRestart) {
  MockGateway gw;
  const int port = gw.port();
  ASSERT_EQ(post(gw.url("/"), {{"to", "1"}, {"text", "before"}}).status, 200);
  RawConnection idle(port);
  ASSERT_EQ(idle.post(message_body(1)).status, 200);

  // A request held unanswered and one waiting out its latency, both in flight at the crash.
  gw.set_timeout_rate(1.0);
  ClientResponse held;
  std::thread held_client([&] { held = post(gw.url("/"), {{"to", "2"}, {"text", "held"}}, {}, 10s); });
  ASSERT_TRUE(gw.wait_for_requests(3, 5s));
  gw.set_timeout_rate(0);
  gw.set_latency(5s);
  ClientResponse delayed;
  std::thread delayed_client([&] { delayed = post(gw.url("/"), {{"to", "3"}, {"text", "delayed"}}, {}, 10s); });
  ASSERT_TRUE(gw.wait_for_requests(4, 5s));

  const auto t0 = Clock::now();
  gw.crash();
  EXPECT_FALSE(gw.listening());
  held_client.join();
  delayed_client.join();
  EXPECT_LT(Clock::now() - t0, 3s);
  EXPECT_EQ(held.status, 0);
  EXPECT_EQ(delayed.status, 0);
  EXPECT_NE(delayed.error.find("no valid response"), std::string::npos) << delayed.error;
  EXPECT_TRUE(idle.closed_by_peer(1s));
  EXPECT_EQ(gw.accepted(), 2U);  // the delayed message died with the "process"

  // Nobody listens: connecting fails.
  gw.set_latency(0ms);
  const auto refused = post(gw.url("/"), {{"to", "4"}, {"text", "down"}}, {}, 2s);
  EXPECT_EQ(refused.status, 0);
  EXPECT_NE(refused.error.find("cannot connect"), std::string::npos) << refused.error;
  EXPECT_FALSE(RawConnection(port).connected());
  gw.crash();  // idempotent

  gw.restart();
  EXPECT_TRUE(gw.listening());
  EXPECT_EQ(gw.port(), port);
  const auto after = post(gw.url("/"), {{"to", "5"}, {"text", "after"}});
  EXPECT_EQ(after.status, 200) << after.error;
  RawConnection again(port);
  EXPECT_EQ(again.post(message_body(2)).status, 200);
  gw.restart();  // idempotent
  EXPECT_EQ(gw.accepted(), 4U);
  EXPECT_EQ(gw.accepted_for("5"), 1U);
  EXPECT_EQ(gw.accepted_for("3"), 0U);
}

TEST(MockGateway, DedupeByIdempotencyKey) {
  MockGateway gw;
  const nlohmann::json body{{"to", "13800000001"}, {"text", "缴费提醒"}};
  // Without dedupe every attempt is a new message: a retried send shows as a duplicate.
  const auto a1 = post(gw.url("/"), body, {{"Idempotency-Key", "out-1"}});
  const auto a2 = post(gw.url("/"), body, {{"Idempotency-Key", "out-1"}});
  EXPECT_NE(nlohmann::json::parse(a1.body)["id"], nlohmann::json::parse(a2.body)["id"]);
  EXPECT_EQ(gw.accepted(), 2U);
  EXPECT_EQ(gw.duplicate_keys(), (std::map<std::string, std::size_t>{{"out-1", 2}}));

  gw.reset();
  gw.set_dedupe_by_idempotency_key(true);
  const auto b1 = post(gw.url("/"), body, {{"Idempotency-Key", "out-2"}});
  const auto b2 = post(gw.url("/"), body, {{"Idempotency-Key", "out-2"}});
  auto with_json_key = body;
  with_json_key["idempotency_key"] = "out-2";
  const auto b3 = post(gw.url("/"), with_json_key);
  ASSERT_EQ(b1.status, 200);
  ASSERT_EQ(b2.status, 200);
  ASSERT_EQ(b3.status, 200);
  const auto id = nlohmann::json::parse(b1.body)["id"];
  EXPECT_EQ(nlohmann::json::parse(b2.body)["id"], id);
  EXPECT_EQ(nlohmann::json::parse(b3.body)["id"], id);
  const auto b4 = post(gw.url("/"), body, {{"Idempotency-Key", "out-3"}});
  EXPECT_NE(nlohmann::json::parse(b4.body)["id"], id);
  // Requests without a key are never deduplicated.
  EXPECT_EQ(post(gw.url("/"), body).status, 200);
  EXPECT_EQ(post(gw.url("/"), body).status, 200);

  EXPECT_EQ(gw.accepted(), 4U);
  EXPECT_EQ(gw.counts().deduplicated, 2U);
  EXPECT_EQ(gw.requests_total(), 6U);
  EXPECT_TRUE(gw.duplicate_keys().empty());
  EXPECT_EQ(gw.accepted_for("13800000001"), 4U);
}

TEST(MockGateway, LostReplyIsRecordedButNeverAnswered) {
  MockGateway gw;
  gw.set_dedupe_by_idempotency_key(true);
  gw.set_lost_reply_rate(1.0);
  const auto lost = post(gw.url("/"), {{"to", "1"}, {"text", "x"}}, {{"Idempotency-Key", "k"}});
  EXPECT_EQ(lost.status, 0);
  EXPECT_EQ(gw.accepted(), 1U);
  EXPECT_EQ(gw.counts().lost_replies, 1U);
  // The sender's retry with the same key gets the original id and adds nothing.
  gw.set_lost_reply_rate(0);
  const auto retry = post(gw.url("/"), {{"to", "1"}, {"text", "x"}}, {{"Idempotency-Key", "k"}});
  EXPECT_EQ(retry.status, 200);
  EXPECT_EQ(nlohmann::json::parse(retry.body)["id"], gw.messages().at(0).provider_id);
  EXPECT_EQ(gw.accepted(), 1U);
}

TEST(MockGateway, Throughput) {
  MockGateway gw;
  constexpr int kConnections = 8;
  constexpr int kPerConnection = 2500;
  std::atomic<int> ok{0};
  std::atomic<bool> stop_reader{false};
  // Controls and queries from another thread while it runs.
  std::thread reader([&] {
    while (!stop_reader) {
      (void)gw.counts();
      gw.set_latency(0ms);
      std::this_thread::sleep_for(1ms);
    }
  });
  std::vector<std::thread> clients;
  const auto t0 = Clock::now();
  for (int c = 0; c < kConnections; ++c) {
    clients.emplace_back([&, c] {
      RawConnection conn(gw.port());
      for (int i = 0; i < kPerConnection; ++i) {
        const std::string body =
            nlohmann::json{{"to", "c" + std::to_string(c)}, {"text", "t"}, {"idempotency_key", c * kPerConnection + i}}
                .dump();
        if (conn.post(body).status == 200) ++ok;
      }
    });
  }
  for (auto& t : clients) t.join();
  const std::chrono::duration<double> took = Clock::now() - t0;
  stop_reader = true;
  reader.join();

  constexpr int kTotal = kConnections * kPerConnection;
  EXPECT_EQ(ok, kTotal);
  EXPECT_EQ(gw.accepted(), static_cast<std::size_t>(kTotal));
  EXPECT_EQ(gw.counts().connections, static_cast<std::size_t>(kConnections));
  EXPECT_EQ(gw.accepted_for("c3"), static_cast<std::size_t>(kPerConnection));
  EXPECT_TRUE(gw.duplicate_keys().empty());
  EXPECT_LE(gw.max_in_flight(), static_cast<std::size_t>(kConnections));
  std::cout << "[ mock gateway ] " << kTotal << " requests over " << kConnections << " keep-alive connections in "
            << took.count() << " s: " << static_cast<long>(kTotal / took.count()) << " requests/s (peak "
            << gw.max_requests_in_window(1s) << " in one second)\n";
}

}  // namespace
}  // namespace villagebot::testkit
