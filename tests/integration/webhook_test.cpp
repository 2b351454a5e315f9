// The generic webhook contract of PRODUCT.md §5 over real HTTP on loopback.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/http_client.hpp"
#include "runtime/runtime.hpp"
#include "runtime/tokens.hpp"
#include "testkit.hpp"

namespace villagebot::testkit {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kSecret = "s3cret-for-tests";

Options signed_options() {
  Options o;
  o.plugins = {"test_echo"};
  o.secret = kSecret;
  o.extra_toml = "";
  return o;
}

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string body_for(const std::string& id, const std::string& text, const std::string& sender = "13800000001") {
  return nlohmann::json{{"message_id", id}, {"sender", sender}, {"text", text}}.dump();
}

void expect_json_error(const HttpResult& r, int status) {
  EXPECT_EQ(r.status, status) << r.body << r.error;
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << "error bodies are JSON: " << r.body;
  ASSERT_TRUE(j.is_object() && j.contains("error") && j["error"].is_object()) << r.body;
  EXPECT_TRUE(j["error"]["code"].is_string());
  EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
}

TEST(Webhook, SignedHelpIsAnsweredInChinese) {
  TestServer server(signed_options());
  const auto r = server.post_webhook(body_for("h-1", "帮助"));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = nlohmann::json::parse(r.body);
  ASSERT_EQ(j["replies"].size(), 1U);
  EXPECT_THAT(j["replies"][0]["text"].get<std::string>(), HasSubstr("您可以发送"));
}

TEST(Webhook, UnsignedWronglySignedAndStaleRequestsGet401AndChangeNothing) {
  TestServer server(signed_options());
  const std::string body = body_for("sig-1", "回声 x");
  expect_json_error(server.request("POST", "/hooks/generic", body), 401);
  const std::string ts = std::to_string(now_s());
  expect_json_error(server.request("POST", "/hooks/generic", body,
                                   {{"X-Villagebot-Timestamp", ts}, {"X-Villagebot-Signature", "sha256=00"}}),
                    401);
  // Well past the five minutes either way: a margin of one second (±301) failed once in CI when the
  // server's clock turned to the next second between signing and checking, which made +301 exactly
  // +300 on the server — inside the window — and the request was accepted.
  expect_json_error(server.post_webhook(body, now_s() - 330), 401);
  expect_json_error(server.post_webhook(body, now_s() + 330), 401);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_messages"), 0);
  EXPECT_EQ(server.post_webhook(body, now_s() - 250).status, 200) << "within five minutes is fine";
}

TEST(Webhook, TheStaleRequestErrorNamesTheConfiguredWindow) {
  Options o = signed_options();
  o.adapter_toml = "max_skew_s = 60\n";
  TestServer server(o);
  const auto stale = server.post_webhook(body_for("skew-1", "回声 x"), now_s() - 90);
  expect_json_error(stale, 401);
  EXPECT_THAT(stale.body, HasSubstr("more than 60 s away")) << stale.body;
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_messages"), 0);
  EXPECT_EQ(server.post_webhook(body_for("skew-2", "回声 x"), now_s() - 30).status, 200) << "inside 60 s";
}

TEST(Webhook, ASignedMalformedBodyGets400) {
  TestServer server(signed_options());
  expect_json_error(server.post_webhook("{\"message_id\": \"m\", \"sender\": "), 400);
  expect_json_error(server.post_webhook("[1,2,3]"), 400);
  expect_json_error(server.post_webhook(R"({"message_id":"m","text":"x"})"), 400);
  expect_json_error(server.post_webhook(R"({"message_id":7,"sender":"13800000001","text":"x"})"), 400);
  expect_json_error(server.post_webhook("{\"message_id\":\"m\",\"sender\":\"13800000001\",\"text\":\"\xff\"}"), 400);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_messages"), 0);
}

TEST(Webhook, ATwoMegabyteBodyGets413) {
  TestServer server(signed_options());
  const std::string huge = body_for("big-1", std::string(2 * 1024 * 1024, 'a'));
  expect_json_error(server.post_webhook(huge), 413);
  EXPECT_EQ(server.post_webhook(body_for("after-big", "帮助")).status, 200) << "the server goes on";
}

TEST(Webhook, TheSameMessageIdIsProcessedOnce) {
  TestServer server(signed_options());
  const auto a = server.post_webhook(body_for("same-1", "回声 一"));
  const auto b = server.post_webhook(body_for("same-1", "回声 一"));
  ASSERT_EQ(a.status, 200);
  ASSERT_EQ(b.status, 200);
  EXPECT_EQ(nlohmann::json::parse(b.body)["duplicate"], true);
  EXPECT_EQ(nlohmann::json::parse(b.body)["replies"], nlohmann::json::parse(a.body)["replies"]);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_messages WHERE direction='in' AND message_id='same-1'"), 1);
}

// The answer's JSON is written directly (not through nlohmann): whatever the replies hold, the
// body parses and gives them back byte for byte, a duplicate's too.
TEST(Webhook, AnswersAreJsonWhateverTheRepliesHold) {
  TestServer server(signed_options());
  // (回声 answers the text as normalised: tabs and line separators become spaces, so none here)
  const std::string hostile = "say \"hi\" \\ backslash \x01\x1f\x7f / 😀 </script>";
  for (const char* id : {"esc-1", "esc-1"}) {
    const auto r = server.post_webhook(body_for(id, "回声 " + hostile));
    ASSERT_EQ(r.status, 200) << r.body;
    const auto j = nlohmann::json::parse(r.body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.body;
    ASSERT_EQ(j["replies"].size(), 1U) << r.body;
    EXPECT_EQ(j["replies"][0]["text"], hostile);
  }
}

TEST(Webhook, HealthMetricsAndErrorsAreJson) {
  TestServer server(signed_options());
  const auto health = server.request("GET", "/healthz");
  ASSERT_EQ(health.status, 200);
  const auto h = nlohmann::json::parse(health.body);
  EXPECT_EQ(h["database"]["state"], "ok");
  EXPECT_EQ(h["plugins"]["test_echo"]["state"], "running");
  EXPECT_EQ(h["adapters"]["generic"]["signed"], true);
  server.post_webhook(body_for("m-1", "帮助"));
  const auto metrics = server.request("GET", "/metrics");
  EXPECT_THAT(metrics.body,
              HasSubstr("villagebot_http_requests_total{route=\"/hooks/generic\",method=\"POST\",status=\"200\"} 1"));
  EXPECT_THAT(metrics.body, HasSubstr("villagebot_http_request_duration_seconds_bucket"));
  EXPECT_THAT(metrics.body, HasSubstr("villagebot_commands_total{plugin=\"core\",command=\"core.help\"} 1"));
  EXPECT_THAT(metrics.body, HasSubstr("villagebot_inbound_messages_total{adapter=\"generic\",outcome=\"accepted\"} 1"));
  EXPECT_THAT(metrics.body, HasSubstr("villagebot_storage_write_queue_depth"));
  expect_json_error(server.request("GET", "/no/such/route"), 404);
  expect_json_error(server.request("GET", "/hooks/generic"), 405);
}

TEST(Webhook, PluginApiRoutesNeedAToken) {
  TestServer server(signed_options());
  expect_json_error(server.request("GET", "/api/v1/test_echo/ping"), 401);
  expect_json_error(
      server.request("GET", "/api/v1/test_echo/ping", "", {{"Authorization", "Bearer vb_wrongwrongwrong"}}), 401);
  const std::string token = server.runtime().tokens().create("ops", "admin");
  server.post_webhook(body_for("e-1", "回声 事件"));
  const auto r = server.request("GET", "/api/v1/test_echo/ping", "", {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["echoed"], 1) << "the plugin saw its own event on the bus";
  EXPECT_EQ(j["principal"], "ops");
  server.runtime().tokens().revoke("ops");
  expect_json_error(server.request("GET", "/api/v1/test_echo/ping", "", {{"Authorization", "Bearer " + token}}), 401);
}

// The web console (issue 12) is served from the binary, under a policy that lets the page talk
// to this server only; the console files are public, the data behind them is not.
TEST(WebConsole, IsServedFromTheBinaryUnderAStrictPolicy) {
  TestServer server(signed_options());
  const auto index = server.request("GET", "/");
  ASSERT_EQ(index.status, 200) << index.body;
  EXPECT_THAT(index.body, HasSubstr("<script type=\"module\" src=\"/console/app.js\"></script>"));
  EXPECT_THAT(index.body, ::testing::Not(HasSubstr("http://"))) << "nothing from outside";
  EXPECT_THAT(index.body, ::testing::Not(HasSubstr("https://")));
  const auto app = server.request("GET", "/console/app.js");
  ASSERT_EQ(app.status, 200);
  EXPECT_THAT(app.body, HasSubstr("import"));
  const auto view = server.request("GET", "/console/views/notices.js");
  ASSERT_EQ(view.status, 200);
  expect_json_error(server.request("GET", "/console/no-such.js"), 404);
  expect_json_error(server.request("GET", "/console/../core/main.cpp"), 404);
  expect_json_error(server.request("POST", "/console/app.js", "{}"), 405);
  // The data behind the page still needs a token.
  expect_json_error(server.request("GET", "/api/v1/me"), 401);
}

TEST(WebConsole, SendsSecurityHeadersAndAnswersRevalidationWith304) {
  TestServer server(signed_options());
  http::BeastHttpClient client;
  ClientRequest req;
  req.method = "GET";
  req.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/console/style.css";
  auto res = client.request(req);
  ASSERT_EQ(res.status, 200) << res.error;
  auto header = [&](const std::string& name) {
    for (const auto& [k, v] : res.headers) {
      std::string lower = k;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == name) return v;
    }
    return std::string();
  };
  EXPECT_THAT(header("content-type"), HasSubstr("text/css"));
  EXPECT_THAT(header("content-security-policy"), HasSubstr("default-src 'self'"));
  EXPECT_THAT(header("content-security-policy"), HasSubstr("script-src 'self'"));
  EXPECT_EQ(header("x-content-type-options"), "nosniff");
  const std::string etag = header("etag");
  ASSERT_FALSE(etag.empty());
  req.headers = {{"If-None-Match", etag}};
  res = client.request(req);
  EXPECT_EQ(res.status, 304);
  EXPECT_TRUE(res.body.empty());
}

TEST(Webhook, TheOpenApiDocumentDescribesEveryRoute) {
  TestServer server(signed_options());
  const auto r = server.request("GET", "/api/v1/openapi.json");
  ASSERT_EQ(r.status, 200);
  const auto doc = nlohmann::json::parse(r.body);
  EXPECT_EQ(doc["openapi"].get<std::string>().substr(0, 2), "3.");
  for (const char* path : {"/healthz", "/metrics", "/hooks/generic", "/api/v1/test_echo/ping", "/api/v1/openapi.json"})
    EXPECT_TRUE(doc["paths"].contains(path)) << path;
  EXPECT_TRUE(doc["paths"]["/api/v1/test_echo/ping"]["get"].contains("security"));
}

// Raw sockets: what curl and a misbehaving client actually send.
int connect_to(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
  return fd;
}

// Reads until the peer closes or the timeout passes; returns what arrived and whether it closed.
std::pair<std::string, bool> read_all(int fd, std::chrono::milliseconds timeout) {
  std::string data;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return {data, true};
    data.append(buf, static_cast<std::size_t>(n));
  }
  return {data, false};
}

TEST(Webhook, KeepAliveServesSeveralRequestsOnOneConnection) {
  TestServer server(signed_options());
  const int fd = connect_to(server.port());
  ASSERT_GE(fd, 0);
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (got.find("\"status\"") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      auto [chunk, closed] = read_all(fd, std::chrono::milliseconds(100));
      got += chunk;
      ASSERT_FALSE(closed) << "the connection stays open";
    }
    EXPECT_THAT(got, HasSubstr("HTTP/1.1 200"));
  }
  close(fd);
}

TEST(Webhook, ATricklingOrIdleClientIsDropped) {
  Options o = signed_options();
  o.server_toml = "header_timeout_ms = 400\nidle_timeout_ms = 600";
  TestServer server(o);
  // Half a header, then nothing: dropped after the header timeout.
  const int trickle = connect_to(server.port());
  const std::string part = "POST /hooks/generic HTTP/1.1\r\nHost: x\r\n";
  ASSERT_EQ(write(trickle, part.data(), part.size()), static_cast<ssize_t>(part.size()));
  const auto started = std::chrono::steady_clock::now();
  auto [data, closed] = read_all(trickle, std::chrono::seconds(5));
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  close(trickle);
  // A connection that never sends anything is dropped too.
  const int idle = connect_to(server.port());
  auto [nothing, idle_closed] = read_all(idle, std::chrono::seconds(5));
  EXPECT_TRUE(idle_closed);
  EXPECT_TRUE(nothing.empty());
  close(idle);
  EXPECT_EQ(server.request("GET", "/healthz").status, 200) << "and the server goes on";
}

TEST(Webhook, TheConnectionCapTurnsAwayTheExcessWith503) {
  Options o = signed_options();
  o.server_toml = "max_connections = 2";
  TestServer server(o);
  const int a = connect_to(server.port());
  const int b = connect_to(server.port());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const int c = connect_to(server.port());
  auto [data, closed] = read_all(c, std::chrono::seconds(3));
  EXPECT_THAT(data, HasSubstr("503"));
  EXPECT_TRUE(closed);
  close(a);
  close(b);
  close(c);
}

// The server parses what is already buffered before it reads again: requests that arrive
// together, a chunked body split over chunks, and the end of a request mid-header.
TEST(Webhook, PipelinedAndChunkedRequestsInOneSegmentAreEachAnswered) {
  Options o;
  o.plugins = {"test_echo"};
  TestServer server(o);
  const int fd = connect_to(server.port());
  ASSERT_GE(fd, 0);
  const std::string body = body_for("chunked-1", "帮助");
  const std::string first = body.substr(0, 10);
  const std::string rest = body.substr(10);
  char size1[16];
  char size2[16];
  std::snprintf(size1, sizeof size1, "%zx", first.size());
  std::snprintf(size2, sizeof size2, "%zx", rest.size());
  const std::string both =
      "POST /hooks/generic HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n" +
      std::string(size1) + "\r\n" + first + "\r\n" + std::string(size2) + "\r\n" + rest + "\r\n0\r\n\r\n" +
      "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(write(fd, both.data(), both.size()), static_cast<ssize_t>(both.size()));
  std::string got;
  bool closed = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!closed && std::chrono::steady_clock::now() < deadline) {
    auto [chunk, done] = read_all(fd, std::chrono::milliseconds(200));
    got += chunk;
    closed = done;
  }
  close(fd);
  EXPECT_TRUE(closed) << "Connection: close ends the connection after the second answer";
  const auto second = got.find("HTTP/1.1 200 OK", 1);
  ASSERT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << got;
  ASSERT_NE(second, std::string::npos) << "both requests are answered: " << got;
  const std::string answer = got.substr(0, second);
  EXPECT_THAT(answer, HasSubstr("\r\nContent-Type: application/json\r\n"));
  EXPECT_THAT(answer, HasSubstr("\"replies\""));
  EXPECT_THAT(answer, Not(HasSubstr("Connection: close")));
  const auto length_at = answer.find("Content-Length: ");
  ASSERT_NE(length_at, std::string::npos) << answer;
  const auto header_end = answer.find("\r\n\r\n");
  EXPECT_EQ(std::stoul(answer.substr(length_at + 16)), answer.size() - header_end - 4)
      << "the length is the body's, in bytes";
  EXPECT_THAT(got.substr(second), HasSubstr("Connection: close\r\n"));
  EXPECT_THAT(got.substr(second), HasSubstr("\"status\""));
}

TEST(Webhook, Http10MalformedAndOversizedHeadersAreAnsweredAndClosed) {
  Options o;
  o.plugins = {"test_echo"};
  TestServer server(o);
  auto exchange = [&](const std::string& bytes) {
    const int fd = connect_to(server.port());
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    auto [data, closed] = read_all(fd, std::chrono::seconds(5));
    close(fd);
    EXPECT_TRUE(closed) << bytes.substr(0, 40);
    return data;
  };
  const auto old = exchange("GET /healthz HTTP/1.0\r\n\r\n");
  EXPECT_EQ(old.rfind("HTTP/1.0 200 OK\r\n", 0), 0U) << old;
  EXPECT_THAT(old, Not(HasSubstr("keep-alive")));
  const auto garbage = exchange("NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(garbage.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0U) << garbage;
  EXPECT_THAT(garbage, HasSubstr("\"bad_request\""));
  const auto huge = exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20 * 1024, 'a') + "\r\n\r\n");
  EXPECT_EQ(huge.rfind("HTTP/1.1 431 ", 0), 0U) << huge.substr(0, 200);
  EXPECT_THAT(huge, HasSubstr("\"headers_too_large\""));
  EXPECT_EQ(server.request("GET", "/healthz").status, 200) << "and the server goes on";
}

}  // namespace
}  // namespace villagebot::testkit
