#include "runtime/tokens.hpp"

#include <chrono>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "directory/people_rows.hpp"
#include "villagebot/crypto.hpp"
#include "villagebot/text.hpp"

namespace villagebot::runtime {

namespace {
std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
constexpr std::string_view kColumns = "id, name, role, created_at, revoked_at IS NOT NULL, COALESCE(person_id, 0)";
TokenInfo from_row(const Row& r) {
  return TokenInfo{r.integer(0), r.text(1), r.text(2), r.integer(3), r.integer(4) != 0, r.integer(5)};
}
}  // namespace

nlohmann::json to_json(const TokenInfo& t) {
  return {
      {"id", t.id},           {"name", t.name},
      {"role", t.role},       {"created_at", t.created_at},
      {"revoked", t.revoked}, {"person_id", t.person_id > 0 ? nlohmann::json(t.person_id) : nlohmann::json(nullptr)}};
}

std::string TokenStore::create(const std::string& name, const std::string& role, std::optional<std::int64_t> person_id,
                               const directory::audit::Actor* actor) {
  if (name.empty() || name.size() > 100 || !text::valid_utf8(name))
    throw std::invalid_argument("the token name must be 1 to 100 bytes of UTF-8");
  bool known = false;
  for (auto r : directory::all_roles()) known = known || r == role;
  if (!known)
    throw std::invalid_argument("unknown role '" + role + "' (admin, cadre, supervisor, evaluator, commander ...)");
  const std::string token = "vb_" + crypto::random_hex(24);
  try {
    storage_.write([&](Session& s) {
      if (person_id && s.query("SELECT 1 FROM core_persons WHERE id = ?", {*person_id}).empty())
        throw std::invalid_argument("no person with id " + std::to_string(*person_id));
      s.execute("INSERT INTO core_tokens(name, role, token_hash, created_at, person_id) VALUES(?, ?, ?, ?, ?)",
                {name, role, crypto::sha256_hex(token), now_s(), person_id ? Value{*person_id} : Value{nullptr}});
      const std::int64_t id = s.last_insert_id();
      if (actor) {
        auto row = s.query(std::string("SELECT ") + std::string(kColumns) + " FROM core_tokens WHERE id = ?", {id});
        directory::audit::record(s, *actor,
                                 {"token.create", "token", std::to_string(id), nullptr, to_json(from_row(row.at(0)))});
      }
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
    auto rows = s.query(std::string("SELECT ") + std::string(kColumns) +
                            " FROM core_tokens WHERE token_hash = ? AND revoked_at IS NULL",
                        {hash});
    if (rows.empty()) return std::nullopt;
    return from_row(rows[0]);
  });
}

std::vector<TokenInfo> TokenStore::list() {
  return storage_.read([&](Session& s) {
    std::vector<TokenInfo> out;
    for (const auto& r : s.query(std::string("SELECT ") + std::string(kColumns) + " FROM core_tokens ORDER BY id"))
      out.push_back(from_row(r));
    return out;
  });
}

bool TokenStore::revoke(const std::string& name, const directory::audit::Actor* actor) {
  return storage_.write([&](Session& s) {
    auto rows = s.query(
        std::string("SELECT ") + std::string(kColumns) + " FROM core_tokens WHERE name = ? AND revoked_at IS NULL",
        {name});
    if (rows.empty()) return false;
    const TokenInfo before = from_row(rows[0]);
    s.execute("UPDATE core_tokens SET revoked_at = ? WHERE id = ?", {now_s(), before.id});
    if (actor) {
      TokenInfo after = before;
      after.revoked = true;
      directory::audit::record(s, *actor,
                               {"token.revoke", "token", std::to_string(before.id), to_json(before), to_json(after)});
    }
    return true;
  });
}

}  // namespace villagebot::runtime
