#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "http/route_table.hpp"
#include "support/metrics.hpp"

namespace villagebot::http {

struct Principal {
  std::string name;
  std::string role;
  std::int64_t person_id = 0;
};

struct ServerHooks {
  // Bearer token → principal, or nullopt when unknown or revoked.
  std::function<std::optional<Principal>(const std::string& token)> authenticate;
  // Runs blocking work (route handlers) off the network threads.
  std::function<void(std::function<void()>)> run_blocking;
};

// The Beast HTTP/1.1 server: keep-alive, one strand per connection,
// coroutines, header/body/idle timeouts, a body limit, a connection cap and
// graceful shutdown. Only this file and the client include Beast.
class HttpServer {
 public:
  HttpServer(const config::ServerConfig& config, RouteTable& routes, support::Metrics& metrics, ServerHooks hooks);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the network threads; throws std::runtime_error with a
  // readable reason (port in use ...). Returns the bound port.
  std::uint16_t start();
  // Stops accepting, lets in-flight requests finish within the grace period,
  // then closes what is left and joins the threads.
  void shutdown();
  [[nodiscard]] std::size_t active_connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace villagebot::http
