#include "directory/sqlite_directory.hpp"

#include <chrono>
#include <map>

#include "villagebot/text.hpp"

namespace villagebot::directory {

namespace {
constexpr std::string_view kSelect =
    "SELECT p.id, p.name, COALESCE(p.phone, ''), COALESCE(p.household_id, 0), COALESCE(h.code, ''), "
    "COALESCE(p.org_unit_id, 0), p.lang, p.opted_out FROM core_persons p "
    "LEFT JOIN core_households h ON h.id = p.household_id ";
}  // namespace

std::vector<Person> SqliteDirectory::load(Session& s, std::string_view where, const std::vector<Value>& params) {
  std::string sql(kSelect);
  sql += where;
  std::vector<Person> people;
  std::map<std::int64_t, std::size_t> index;
  for (const auto& row : s.query(sql, params)) {
    Person p;
    p.id = row.integer(0);
    p.name = row.text(1);
    p.phone = row.text(2);
    p.household_id = row.integer(3);
    p.household_code = row.text(4);
    p.org_unit_id = row.integer(5);
    p.lang = parse_lang(row.text(6));
    p.opted_out = row.integer(7) != 0;
    index[p.id] = people.size();
    people.push_back(std::move(p));
  }
  if (people.size() == 1) {
    for (const auto& r :
         s.query("SELECT role FROM core_person_roles WHERE person_id = ? ORDER BY role", {people[0].id}))
      people[0].roles.push_back(r.text(0));
  } else if (!people.empty()) {
    std::string roles_sql =
        "SELECT r.person_id, r.role FROM core_person_roles r WHERE r.person_id IN (SELECT p.id FROM core_persons p "
        "LEFT JOIN core_households h ON h.id = p.household_id ";
    roles_sql += where;
    roles_sql += ") ORDER BY r.role";
    for (const auto& r : s.query(roles_sql, params)) {
      auto it = index.find(r.integer(0));
      if (it != index.end()) people[it->second].roles.push_back(r.text(1));
    }
  }
  return people;
}

std::optional<Person> SqliteDirectory::person(std::int64_t id) {
  return storage_.read([&](Session& s) -> std::optional<Person> {
    auto v = load(s, "WHERE p.id = ?", {id});
    if (v.empty()) return std::nullopt;
    return v.front();
  });
}

std::optional<Person> SqliteDirectory::lookup_uncached(std::string_view kind, std::string_view address) {
  return storage_.read([&](Session& s) -> std::optional<Person> {
    auto v = kind == "phone"
                 ? load(s, "WHERE p.phone = ?", {std::string(address)})
                 : load(s, "WHERE p.id = (SELECT person_id FROM core_identities WHERE kind = ? AND external_id = ?)",
                        {std::string(kind), std::string(address)});
    if (v.empty()) return std::nullopt;
    return v.front();
  });
}

std::optional<Person> SqliteDirectory::find_by_identity(std::string_view kind, std::string_view external_id) {
  std::string address(external_id);
  if (kind == "phone") {
    auto e164 = text::normalise_phone(external_id);
    if (!e164) return std::nullopt;
    address = *e164;
  }
  std::string key(kind);
  key += '\n';
  key += address;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(cache_mutex_);
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second.expires > now) return it->second.person;
  }
  auto found = lookup_uncached(kind, address);
  std::lock_guard lock(cache_mutex_);
  if (cache_.size() > 20000) cache_.clear();  // bounded: a flood of strangers cannot grow it
  cache_[key] = Cached{found, now + kCacheTtl};
  return found;
}

std::optional<Person> SqliteDirectory::find_by_phone(std::string_view phone) {
  return find_by_identity("phone", phone);
}

void SqliteDirectory::invalidate() {
  std::lock_guard lock(cache_mutex_);
  cache_.clear();
}

std::optional<std::string> SqliteDirectory::identity_of(std::int64_t person_id, std::string_view kind) {
  return storage_.read([&](Session& s) -> std::optional<std::string> {
    auto rows =
        s.query("SELECT external_id FROM core_identities WHERE person_id = ? AND kind = ? ORDER BY external_id LIMIT 1",
                {person_id, std::string(kind)});
    if (rows.empty()) return std::nullopt;
    return rows[0].text(0);
  });
}

std::vector<Person> SqliteDirectory::with_role(std::string_view role) {
  return storage_.read([&](Session& s) {
    return load(s, "WHERE p.id IN (SELECT person_id FROM core_person_roles WHERE role = ?) ORDER BY p.id",
                {std::string(role)});
  });
}

std::vector<Person> SqliteDirectory::household_members(std::int64_t household_id) {
  return storage_.read([&](Session& s) { return load(s, "WHERE p.household_id = ? ORDER BY p.id", {household_id}); });
}

std::optional<OrgUnit> SqliteDirectory::org_unit(std::int64_t id) {
  return storage_.read([&](Session& s) -> std::optional<OrgUnit> {
    auto rows = s.query(
        "SELECT id, COALESCE(parent_id, 0), name, path, COALESCE(responsible_person_id, 0) FROM core_org_units WHERE "
        "id = ?",
        {id});
    if (rows.empty()) return std::nullopt;
    return OrgUnit{rows[0].integer(0), rows[0].integer(1), rows[0].text(2), rows[0].text(3), rows[0].integer(4)};
  });
}

void SqliteDirectory::set_opted_out(std::int64_t person_id, bool opted_out) {
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  storage_.write([&](Session& s) {
    s.execute("UPDATE core_persons SET opted_out = ?, updated_at = ? WHERE id = ?",
              {std::int64_t{opted_out ? 1 : 0}, static_cast<std::int64_t>(now), person_id});
  });
  invalidate();
}

}  // namespace villagebot::directory
