#pragma once
#include <chrono>
#include <string>
#include <utility>
#include <vector>

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
};

// Blocking outbound HTTP for adapters; call from worker threads only.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual ClientResponse request(const ClientRequest& request) = 0;
};

}  // namespace villagebot
