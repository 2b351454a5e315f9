#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "directory/audit.hpp"
#include "villagebot/storage.hpp"

namespace villagebot::runtime {

struct TokenInfo {
  std::int64_t id = 0;
  std::string name;
  std::string role;
  std::int64_t created_at = 0;
  bool revoked = false;
  std::int64_t person_id = 0;  // the person it acts for (a cadre's scope); 0: none
};

nlohmann::json to_json(const TokenInfo& token);

// API tokens: only the SHA-256 of a token is stored; the token is shown once.
// Creating and revoking are written to the audit log when an actor is given.
class TokenStore {
 public:
  explicit TokenStore(Storage& storage) : storage_(storage) {}
  // Returns the token. Throws std::invalid_argument on a bad or taken name,
  // an unknown role or an unknown person.
  std::string create(const std::string& name, const std::string& role, std::optional<std::int64_t> person_id = {},
                     const directory::audit::Actor* actor = nullptr);
  [[nodiscard]] std::optional<TokenInfo> authenticate(const std::string& token);
  [[nodiscard]] std::vector<TokenInfo> list();
  // False when there is no active token of that name.
  bool revoke(const std::string& name, const directory::audit::Actor* actor = nullptr);

 private:
  Storage& storage_;
};

}  // namespace villagebot::runtime
