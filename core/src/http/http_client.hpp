#pragma once
#include "villagebot/http_client.hpp"

namespace villagebot::http {

// Outbound HTTP/1.1 with a deadline over the whole exchange and a response
// size limit; redirects are not followed.
class BeastHttpClient final : public HttpClient {
 public:
  explicit BeastHttpClient(std::size_t response_limit = 4 * 1024 * 1024) : response_limit_(response_limit) {}
  ClientResponse request(const ClientRequest& request) override;

 private:
  std::size_t response_limit_;
};

}  // namespace villagebot::http
