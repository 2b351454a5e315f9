#pragma once
// TLS for tests: a certificate authority made at test time (no key material in the repository)
// with a server certificate for 127.0.0.1 and localhost, and an HTTP CONNECT proxy on
// 127.0.0.1 that records the tunnels it opened. Used with FakeHttpServer's TLS mode to test
// the HTTPS client and the chat adapters against real TLS on loopback.
#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace villagebot::testkit {

struct TestPki {
  std::filesystem::path ca_cert;      // PEM: the CA a client is told to trust
  std::filesystem::path server_cert;  // PEM: the server's certificate, signed by the CA
  std::filesystem::path server_key;   // PEM: its private key
};

// A fresh CA (EC P-256, valid a day) and a server certificate signed by it whose subject
// alternative names are `names` (IP addresses or DNS names), written into `dir`.
TestPki make_test_pki(const std::filesystem::path& dir,
                      const std::vector<std::string>& names = {"127.0.0.1", "localhost"},
                      const std::string& ca_name = "villagebot test CA");

// An HTTP proxy that only tunnels: CONNECT host:port → 200, then bytes both ways.
class ConnectProxy {
 public:
  ConnectProxy();
  ~ConnectProxy();
  ConnectProxy(const ConnectProxy&) = delete;
  ConnectProxy& operator=(const ConnectProxy&) = delete;

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The CONNECT targets seen, in order, and the Proxy-Authorization header of each ("" none).
  std::vector<std::string> tunnels();
  std::vector<std::string> authorizations();

 private:
  void serve();
  void tunnel(int client);
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::vector<std::string> tunnels_, authorizations_;
  std::vector<std::thread> pumps_;
  std::thread thread_;
};

}  // namespace villagebot::testkit
