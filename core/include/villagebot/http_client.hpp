#pragma once
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "villagebot/message.hpp"

namespace villagebot {

struct ClientRequest {
  std::string method = "POST";
  std::string url;  // http://host:port/path (https arrives with the chat adapters)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};
};

struct ClientResponse {
  int status = 0;     // 0: no HTTP answer (see error)
  std::string error;  // connection refused, timeout, bad URL ...
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // With status 0: the server could not be reached at all (name lookup, connect, proxy, TLS
  // handshake), so nothing was sent: the gateway is down, and a message waits for it
  // (SendResult::gateway_down) instead of using up an attempt. False after a timeout or a
  // connection lost once the request was on its way: that is an attempt (retry).
  bool unreachable = false;
};

// Blocking outbound HTTP for adapters; call from worker threads only.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual ClientResponse request(const ClientRequest& request) = 0;
};

// A send that got no HTTP answer (status 0): held while the gateway cannot be reached at all,
// else an attempt to retry (a timeout: the gateway may have taken it).
inline SendResult unreachable_or_retry(const ClientResponse& response, std::string why) {
  return response.unreachable ? SendResult::gateway_down(std::move(why), 0) : SendResult::retryable(std::move(why));
}

}  // namespace villagebot
