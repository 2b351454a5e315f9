#include "directory/audit.hpp"

#include <pwd.h>
#include <unistd.h>

#include <chrono>

namespace villagebot::directory::audit {

namespace {
std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
Value json_or_null(const nlohmann::json& j) {
  if (j.is_null()) return Value{nullptr};
  return Value{j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}
nlohmann::json parse_or_null(const Row& r, std::size_t column) {
  if (r.is_null(column)) return nullptr;
  return nlohmann::json::parse(r.text(column), nullptr, false);
}
}  // namespace

Actor cli_actor() {
  std::string user;
  if (const passwd* pw = getpwuid(geteuid()); pw != nullptr && pw->pw_name != nullptr) user = pw->pw_name;
  if (user.empty()) user = "uid" + std::to_string(geteuid());
  return Actor{"cli:" + user, "", "cli"};
}

void record(Session& session, const Actor& actor, const Change& change) {
  session.execute(
      "INSERT INTO core_audit_log (at_ms, actor, actor_role, via, action, entity, entity_id, before, after) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {now_ms(), actor.name, actor.role, actor.via, change.action, change.entity, change.entity_id,
       json_or_null(change.before), json_or_null(change.after)});
}

nlohmann::json list(Session& session, const Query& q) {
  std::string where = " WHERE 1";
  std::vector<Value> params;
  auto filter = [&](const char* column, const std::string& value) {
    if (value.empty()) return;
    where += std::string(" AND ") + column + " = ?";
    params.emplace_back(value);
  };
  filter("entity", q.entity);
  filter("entity_id", q.entity_id);
  filter("actor", q.actor);
  filter("action", q.action);
  const auto total = session.query("SELECT COUNT(*) FROM core_audit_log" + where, params).at(0).integer(0);
  auto page_params = params;
  page_params.emplace_back(q.per_page);
  page_params.emplace_back((q.page - 1) * q.per_page);
  nlohmann::json items = nlohmann::json::array();
  for (const Row& r : session.query("SELECT id, at_ms, actor, actor_role, via, action, entity, entity_id, before, "
                                    "after FROM core_audit_log" +
                                        where + " ORDER BY id DESC LIMIT ? OFFSET ?",
                                    page_params))
    items.push_back({{"id", r.integer(0)},
                     {"at_ms", r.integer(1)},
                     {"actor", r.text(2)},
                     {"actor_role", r.text(3)},
                     {"via", r.text(4)},
                     {"action", r.text(5)},
                     {"entity", r.text(6)},
                     {"entity_id", r.text(7)},
                     {"before", parse_or_null(r, 8)},
                     {"after", parse_or_null(r, 9)}});
  return {{"items", std::move(items)}, {"total", total}, {"page", q.page}, {"per_page", q.per_page}};
}

}  // namespace villagebot::directory::audit
