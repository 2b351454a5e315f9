#include "directory/sqlite_directory.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>

#include "villagebot/text.hpp"

namespace villagebot::directory {

namespace {
constexpr std::string_view kSelect =
    "SELECT p.id, p.name, COALESCE(p.phone, ''), COALESCE(p.household_id, 0), COALESCE(h.code, ''), "
    "COALESCE(p.org_unit_id, 0), p.lang, p.opted_out, p.channel_preference FROM core_persons p "
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
    p.channel_preference = row.text(8);
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
  households_.clear();
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

namespace {

OrgUnit unit_from(const Row& r) {
  return OrgUnit{r.integer(0), r.integer(1), r.text(2), r.text(3), r.integer(4)};
}
constexpr std::string_view kUnitSelect =
    "SELECT id, COALESCE(parent_id, 0), name, path, COALESCE(responsible_person_id, 0) FROM core_org_units ";

Household household_from(const Row& r) {
  return Household{r.integer(0), r.text(1), r.text(2), r.integer(3), r.integer(4)};
}
constexpr std::string_view kHouseholdSelect =
    "SELECT id, code, head_name, COALESCE(org_unit_id, 0), COALESCE(central_household_id, 0) FROM core_households ";

template <typename T>
std::string json_list(const std::vector<T>& v) {
  return nlohmann::json(v).dump();
}

}  // namespace

std::optional<OrgUnit> SqliteDirectory::org_unit_by_path(std::string_view path) {
  return storage_.read([&](Session& s) -> std::optional<OrgUnit> {
    auto rows = s.query(std::string(kUnitSelect) + "WHERE path = ?", {std::string(path)});
    if (rows.empty()) return std::nullopt;
    return unit_from(rows[0]);
  });
}

std::vector<OrgUnit> SqliteDirectory::units_responsible_for(std::int64_t person_id) {
  return storage_.read([&](Session& s) {
    std::vector<OrgUnit> out;
    for (const Row& r :
         s.query(std::string(kUnitSelect) + "WHERE responsible_person_id = ? ORDER BY path", {person_id}))
      out.push_back(unit_from(r));
    return out;
  });
}

std::optional<Household> SqliteDirectory::household(std::int64_t id) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(cache_mutex_);
    auto it = households_.find(id);
    if (it != households_.end() && it->second.expires > now) return it->second.household;
  }
  auto found = storage_.read([&](Session& s) -> std::optional<Household> {
    auto rows = s.query(std::string(kHouseholdSelect) + "WHERE id = ?", {id});
    if (rows.empty()) return std::nullopt;
    return household_from(rows[0]);
  });
  std::lock_guard lock(cache_mutex_);
  if (households_.size() > 20000) households_.clear();  // bounded, as the sender cache
  households_[id] = CachedHousehold{found, now + kCacheTtl};
  return found;
}

std::optional<Household> SqliteDirectory::household_by_code(std::string_view code) {
  return storage_.read([&](Session& s) -> std::optional<Household> {
    auto rows = s.query(std::string(kHouseholdSelect) + "WHERE code = ?", {std::string(code)});
    if (rows.empty()) return std::nullopt;
    return household_from(rows[0]);
  });
}

std::vector<std::int64_t> SqliteDirectory::resolve(const Audience& a) {
  if (a.empty()) return {};
  // One statement: lists travel as JSON arrays (json_each), so an audience of
  // 100,000 explicit persons needs no 100,000 bound parameters. NULL ids are
  // COALESCEd: NOT (NULL IN ...) would drop a person without a unit.
  std::vector<Value> params;
  std::string sql =
      "WITH RECURSIVE "
      "inc(id) AS (SELECT value FROM json_each(?) UNION SELECT u.id FROM core_org_units u JOIN inc ON u.parent_id = "
      "inc.id), "
      "exc(id) AS (SELECT value FROM json_each(?) UNION SELECT u.id FROM core_org_units u JOIN exc ON u.parent_id = "
      "exc.id) "
      "SELECT p.id FROM core_persons p WHERE (";
  params.emplace_back(json_list(a.org_units));
  params.emplace_back(json_list(a.exclude_org_units));
  std::vector<std::string> any;
  if (a.everyone) any.emplace_back("1");
  if (!a.org_units.empty()) any.emplace_back("COALESCE(p.org_unit_id, 0) IN (SELECT id FROM inc)");
  if (!a.roles.empty()) {
    any.emplace_back(
        "p.id IN (SELECT person_id FROM core_person_roles WHERE role IN (SELECT value FROM json_each(?)))");
    params.emplace_back(json_list(a.roles));
  }
  if (!a.households.empty()) {
    any.emplace_back("COALESCE(p.household_id, 0) IN (SELECT value FROM json_each(?))");
    params.emplace_back(json_list(a.households));
  }
  if (!a.central_households.empty()) {
    any.emplace_back(
        "COALESCE(p.household_id, 0) IN (SELECT id FROM core_households WHERE id IN (SELECT value FROM json_each(?)) "
        "OR central_household_id IN (SELECT value FROM json_each(?)))");
    params.emplace_back(json_list(a.central_households));
    params.emplace_back(json_list(a.central_households));
  }
  if (!a.persons.empty()) {
    any.emplace_back("p.id IN (SELECT value FROM json_each(?))");
    params.emplace_back(json_list(a.persons));
  }
  for (std::size_t i = 0; i < any.size(); ++i) sql += (i ? " OR " : "") + any[i];
  sql += ")";
  if (!a.only_roles.empty()) {
    sql += " AND p.id IN (SELECT person_id FROM core_person_roles WHERE role IN (SELECT value FROM json_each(?)))";
    params.emplace_back(json_list(a.only_roles));
  }
  if (!a.within_org_units.empty()) {
    sql +=
        " AND COALESCE(p.org_unit_id, 0) IN (WITH RECURSIVE w(id) AS (SELECT value FROM json_each(?) UNION "
        "SELECT u.id FROM core_org_units u JOIN w ON u.parent_id = w.id) SELECT id FROM w)";
    params.emplace_back(json_list(a.within_org_units));
  }
  if (!a.exclude_org_units.empty()) sql += " AND COALESCE(p.org_unit_id, 0) NOT IN (SELECT id FROM exc)";
  if (!a.exclude_roles.empty()) {
    sql += " AND p.id NOT IN (SELECT person_id FROM core_person_roles WHERE role IN (SELECT value FROM json_each(?)))";
    params.emplace_back(json_list(a.exclude_roles));
  }
  if (!a.exclude_households.empty()) {
    sql += " AND COALESCE(p.household_id, 0) NOT IN (SELECT value FROM json_each(?))";
    params.emplace_back(json_list(a.exclude_households));
  }
  if (!a.exclude_persons.empty()) {
    sql += " AND p.id NOT IN (SELECT value FROM json_each(?))";
    params.emplace_back(json_list(a.exclude_persons));
  }
  sql += " ORDER BY p.id";
  return storage_.read([&](Session& s) {
    std::vector<std::int64_t> ids;
    for (const Row& r : s.query(sql, params)) ids.push_back(r.integer(0));
    return ids;
  });
}

std::vector<Person> SqliteDirectory::persons(const std::vector<std::int64_t>& ids) {
  if (ids.empty()) return {};
  auto loaded = storage_.read(
      [&](Session& s) { return load(s, "WHERE p.id IN (SELECT value FROM json_each(?))", {json_list(ids)}); });
  std::unordered_map<std::int64_t, std::size_t> at;
  for (std::size_t i = 0; i < loaded.size(); ++i) at[loaded[i].id] = i;
  std::vector<Person> out;
  out.reserve(loaded.size());
  for (std::int64_t id : ids)
    if (auto it = at.find(id); it != at.end()) out.push_back(loaded[it->second]);
  return out;
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
