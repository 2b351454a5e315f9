#include "runtime/tokens.hpp"

#include <array>
#include <chrono>
#include <stdexcept>

#include "villagebot/crypto.hpp"

namespace villagebot::runtime {

namespace {
constexpr std::array<std::string_view, 11> kRoles{
    "villager",  "central_household_head", "party_member", "group_leader", "cadre", "evaluator", "supervisor",
    "commander", "emergency_team",         "volunteer",    "admin"};
std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

std::string TokenStore::create(const std::string& name, const std::string& role) {
  if (name.empty() || name.size() > 100) throw std::invalid_argument("the token name must be 1 to 100 characters");
  bool known = false;
  for (auto r : kRoles) known = known || r == role;
  if (!known)
    throw std::invalid_argument("unknown role '" + role + "' (admin, cadre, supervisor, evaluator, commander ...)");
  const std::string token = "vb_" + crypto::random_hex(24);
  try {
    storage_.write([&](Session& s) {
      s.execute("INSERT INTO core_tokens(name, role, token_hash, created_at) VALUES(?, ?, ?, ?)",
                {name, role, crypto::sha256_hex(token), now_s()});
    });
  } catch (const ConstraintError&) {
    throw std::invalid_argument("a token named '" + name + "' exists already");
  }
  return token;
}

std::optional<TokenInfo> TokenStore::authenticate(const std::string& token) {
  if (token.size() < 10 || token.size() > 200) return std::nullopt;
  const std::string hash = crypto::sha256_hex(token);
  return storage_.read([&](Session& s) -> std::optional<TokenInfo> {
    auto rows = s.query(
        "SELECT id, name, role, created_at FROM core_tokens WHERE token_hash = ? AND revoked_at IS NULL", {hash});
    if (rows.empty()) return std::nullopt;
    return TokenInfo{rows[0].integer(0), rows[0].text(1), rows[0].text(2), rows[0].integer(3), false};
  });
}

std::vector<TokenInfo> TokenStore::list() {
  return storage_.read([&](Session& s) {
    std::vector<TokenInfo> out;
    for (const auto& r :
         s.query("SELECT id, name, role, created_at, revoked_at IS NOT NULL FROM core_tokens ORDER BY id"))
      out.push_back(TokenInfo{r.integer(0), r.text(1), r.text(2), r.integer(3), r.integer(4) != 0});
    return out;
  });
}

bool TokenStore::revoke(const std::string& name) {
  return storage_.write([&](Session& s) {
    return s.execute("UPDATE core_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", {now_s(), name}) >
           0;
  });
}

}  // namespace villagebot::runtime
