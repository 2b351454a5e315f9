#pragma once
#include <optional>
#include <string>
#include <vector>

#include "villagebot/storage.hpp"

namespace villagebot::runtime {

struct TokenInfo {
  std::int64_t id = 0;
  std::string name;
  std::string role;
  std::int64_t created_at = 0;
  bool revoked = false;
};

// API tokens: only the SHA-256 of a token is stored; the token is shown once.
class TokenStore {
 public:
  explicit TokenStore(Storage& storage) : storage_(storage) {}
  // Returns the token. Throws std::invalid_argument on a taken name or unknown role.
  std::string create(const std::string& name, const std::string& role);
  [[nodiscard]] std::optional<TokenInfo> authenticate(const std::string& token);
  [[nodiscard]] std::vector<TokenInfo> list();
  bool revoke(const std::string& name);

 private:
  Storage& storage_;
};

}  // namespace villagebot::runtime
