// The outbound HTTPS client (issue 10) against real TLS servers on 127.0.0.1 whose CA is made
// at test time: a trusted server answers; an untrusted one (another CA, or the system store
// that knows no test CA), or one whose certificate names another host, is refused with a clear
// error before any request leaves; connections are kept alive and reused over TLS; https_proxy
// tunnels with CONNECT (with credentials), no_proxy bypasses it; the size limit holds.
#include <chrono>
#include <filesystem>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_http.hpp"
#include "http/http_client.hpp"
#include "testkit.hpp"
#include "tls.hpp"

namespace villagebot::http {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testkit::FakeHttpOptions;
using testkit::FakeHttpServer;
using testkit::FakeResponse;
using testkit::ReceivedRequest;

class Https : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testkit::make_temp_dir("villagebot-tls");
    pki_ = testkit::make_test_pki(dir_ / "good");
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  FakeHttpOptions tls_options(const testkit::TestPki& pki, bool keep_alive = false) const {
    FakeHttpOptions o;
    o.cert_file = pki.server_cert.string();
    o.key_file = pki.server_key.string();
    o.keep_alive = keep_alive;
    o.handler = [](const ReceivedRequest& r) {
      return FakeResponse{200, R"({"errcode":0,"echo":")" + r.target + "\"}"};
    };
    return o;
  }
  static ClientRequest post(const std::string& url) {
    ClientRequest r;
    r.url = url;
    r.body = R"({"msgtype":"text","text":{"content":"明天停水"}})";
    r.headers = {{"Content-Type", "application/json"}};
    r.timeout = 5s;
    return r;
  }

  std::filesystem::path dir_;
  testkit::TestPki pki_;
};

TEST_F(Https, ATrustedServerAnswersOverTls) {
  FakeHttpServer server(tls_options(pki_));
  BeastHttpClient client(HttpClientOptions{.ca_file = pki_.ca_cert.string(), .https_proxy = "none"});
  const auto res = client.request(post(server.url("/cgi-bin/webhook/send?key=abc")));
  ASSERT_TRUE(res.error.empty()) << res.error;
  EXPECT_EQ(res.status, 200);
  EXPECT_THAT(res.body, HasSubstr("/cgi-bin/webhook/send?key=abc"));
  const auto got = server.wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].headers.at("host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(got[0].headers.at("content-type"), "application/json");
  EXPECT_THAT(got[0].body, HasSubstr("明天停水"));
}

TEST_F(Https, AnUntrustedCertificateIsRefusedWithAClearErrorAndNothingIsSent) {
  FakeHttpServer server(tls_options(pki_));
  // The system's CA store knows nothing of the test CA: verification is on by default.
  BeastHttpClient system_store(HttpClientOptions{.https_proxy = "none"});
  auto res = system_store.request(post(server.url("/send")));
  EXPECT_EQ(res.status, 0);
  EXPECT_THAT(res.error, HasSubstr("not trusted")) << res.error;
  EXPECT_THAT(res.error, HasSubstr("127.0.0.1"));
  // Another CA's file: refused the same way.
  const auto other = testkit::make_test_pki(dir_ / "other", {"127.0.0.1"}, "some other CA");
  BeastHttpClient other_ca(HttpClientOptions{.ca_file = other.ca_cert.string(), .https_proxy = "none"});
  res = other_ca.request(post(server.url("/send")));
  EXPECT_EQ(res.status, 0);
  EXPECT_THAT(res.error, HasSubstr("not trusted")) << res.error;
  EXPECT_TRUE(server.wait_for(1, 300ms).empty()) << "no request reached the server";
  EXPECT_GE(server.handshake_failures(), 2);
}

TEST_F(Https, ACertificateForAnotherHostIsRefused) {
  const auto elsewhere = testkit::make_test_pki(dir_ / "elsewhere", {"qyapi.weixin.qq.com"});
  FakeHttpServer server(tls_options(elsewhere));
  BeastHttpClient client(HttpClientOptions{.ca_file = elsewhere.ca_cert.string(), .https_proxy = "none"});
  const auto res = client.request(post(server.url("/send")));
  EXPECT_EQ(res.status, 0);
  EXPECT_THAT(res.error, HasSubstr("not trusted")) << res.error;
  EXPECT_THAT(res.error, HasSubstr("mismatch")) << res.error;
  EXPECT_TRUE(server.wait_for(1, 300ms).empty());
}

TEST_F(Https, ConnectionsAreKeptAliveAndReusedOverTls) {
  FakeHttpServer server(tls_options(pki_, true));
  BeastHttpClient client(HttpClientOptions{.ca_file = pki_.ca_cert.string(), .https_proxy = "none"});
  for (int i = 0; i < 5; ++i) {
    const auto res = client.request(post(server.url("/send/" + std::to_string(i))));
    ASSERT_TRUE(res.error.empty()) << res.error;
    EXPECT_THAT(res.body, HasSubstr("/send/" + std::to_string(i)));
  }
  const auto s = client.stats();
  EXPECT_EQ(s.connections_opened, 1u);
  EXPECT_EQ(s.reused, 4u);
  EXPECT_EQ(server.connections(), 1);
  // The same host over plain HTTP is another pool entry, never a TLS connection reused.
  FakeHttpServer plain(FakeHttpOptions{.keep_alive = true});
  EXPECT_EQ(client.request(post(plain.url("/x"))).status, 200);
}

TEST_F(Https, HttpsProxyTunnelsWithConnectAndNoProxyBypassesIt) {
  FakeHttpServer server(tls_options(pki_, true));
  testkit::ConnectProxy proxy;
  const std::string with_credentials = "http://villagebot:s3cret@127.0.0.1:" + std::to_string(proxy.port());
  BeastHttpClient client(HttpClientOptions{.ca_file = pki_.ca_cert.string(), .https_proxy = with_credentials});
  auto res = client.request(post(server.url("/through")));
  ASSERT_TRUE(res.error.empty()) << res.error;
  EXPECT_EQ(res.status, 200);
  ASSERT_EQ(proxy.tunnels().size(), 1u);
  EXPECT_EQ(proxy.tunnels()[0], "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(proxy.authorizations()[0], "Basic dmlsbGFnZWJvdDpzM2NyZXQ=");  // villagebot:s3cret
  // TLS is end to end: the certificate checked is the server's, through the tunnel.
  const auto other = testkit::make_test_pki(dir_ / "other", {"127.0.0.1"}, "some other CA");
  BeastHttpClient wrong(HttpClientOptions{.ca_file = other.ca_cert.string(), .https_proxy = proxy.url()});
  EXPECT_THAT(wrong.request(post(server.url("/through"))).error, HasSubstr("not trusted"));
  // no_proxy: straight to the server.
  BeastHttpClient direct(HttpClientOptions{
      .ca_file = pki_.ca_cert.string(), .https_proxy = proxy.url(), .no_proxy = "localhost, 127.0.0.1"});
  const auto tunnels = proxy.tunnels().size();
  EXPECT_EQ(direct.request(post(server.url("/direct"))).status, 200);
  EXPECT_EQ(proxy.tunnels().size(), tunnels);
  // A proxy that is not there: a clear error, not a hang.
  BeastHttpClient nowhere(HttpClientOptions{.ca_file = pki_.ca_cert.string(), .https_proxy = "http://127.0.0.1:1"});
  EXPECT_THAT(nowhere.request(post(server.url("/x"))).error, HasSubstr("cannot connect to 127.0.0.1:1"));
}

TEST_F(Https, ResponseLimitBadCaFileAndBadUrlsAreClearErrors) {
  FakeHttpOptions big = tls_options(pki_);
  big.handler = [](const ReceivedRequest&) { return FakeResponse{200, std::string(64 * 1024, 'x')}; };
  FakeHttpServer server(big);
  BeastHttpClient small(
      HttpClientOptions{.response_limit = 1024, .ca_file = pki_.ca_cert.string(), .https_proxy = "none"});
  const auto res = small.request(post(server.url("/big")));
  EXPECT_EQ(res.status, 0);
  EXPECT_THAT(res.error, HasSubstr("no valid response")) << res.error;
  BeastHttpClient missing(HttpClientOptions{.ca_file = (dir_ / "nope.pem").string(), .https_proxy = "none"});
  EXPECT_THAT(missing.request(post(server.url("/x"))).error, HasSubstr("cannot load the CA certificates"));
  BeastHttpClient client(HttpClientOptions{.ca_file = pki_.ca_cert.string(), .https_proxy = "none"});
  EXPECT_THAT(client.request(post("ftp://127.0.0.1/x")).error, HasSubstr("only http:// and https://"));
  EXPECT_THAT(client.request(post("https://user:pw@127.0.0.1/x")).error, HasSubstr("credentials"));
  EXPECT_THAT(client.request(post("https://127.0.0.1:99999/x")).error, HasSubstr("bad URL"));
}

}  // namespace
}  // namespace villagebot::http
