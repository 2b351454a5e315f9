#pragma once
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "villagebot/http_client.hpp"

namespace villagebot::http {

struct HttpClientOptions {
  std::size_t response_limit = 4 * 1024 * 1024;
  // https://: the server's certificate is always verified (chain and host name) against the
  // system's CA store, or against this PEM file when given (a private CA, the tests' CA).
  std::string ca_file{};
  // An HTTP proxy for https:// URLs, tunnelled with CONNECT ("http://[user:pass@]host:port").
  // "" = the https_proxy / HTTPS_PROXY environment variable; "none" = never a proxy.
  std::string https_proxy{};
  // Hosts reached directly: comma-separated names (a name covers its subdomains), IPs, or *.
  // "" = the no_proxy / NO_PROXY environment variable.
  std::string no_proxy{};
  // Idle keep-alive connections kept per host:port (the pool); 0 turns reuse off.
  std::size_t max_idle_per_host = 64;
  // An idle connection older than this is closed rather than reused.
  std::chrono::milliseconds idle_timeout{30000};
};

// Outbound HTTP/1.1 and HTTPS (TLS 1.2+, SNI, certificate and host-name verification that
// cannot be turned off, CONNECT through https_proxy) with a deadline over the whole exchange
// and a response size limit; redirects are not followed. Connections are kept alive and
// reused per host:port, so a dispatcher's sender threads each hold one
// connection to their gateway instead of opening one per message. Safe to call
// from any number of threads; each call blocks its caller only.
class BeastHttpClient final : public HttpClient {
 public:
  BeastHttpClient();
  explicit BeastHttpClient(std::size_t response_limit);
  explicit BeastHttpClient(HttpClientOptions options);
  ~BeastHttpClient() override;
  BeastHttpClient(const BeastHttpClient&) = delete;
  BeastHttpClient& operator=(const BeastHttpClient&) = delete;

  ClientResponse request(const ClientRequest& request) override;

  struct Stats {
    std::size_t connections_opened = 0;
    std::size_t requests = 0;
    std::size_t reused = 0;  // requests sent on a pooled connection
    std::size_t idle = 0;    // connections in the pool now
  };
  [[nodiscard]] Stats stats();

  struct Connection;  // one socket with its own io_context (http_client.cpp)

 private:
  std::unique_ptr<Connection> take(const std::string& key);
  void give_back(const std::string& key, std::unique_ptr<Connection> connection);

  struct Tls;  // the OpenSSL context (http_client.cpp)

  HttpClientOptions options_;
  std::unique_ptr<Tls> tls_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
  Stats stats_;
};

}  // namespace villagebot::http
