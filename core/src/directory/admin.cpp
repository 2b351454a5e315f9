#include "directory/admin.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

#include "directory/people_rows.hpp"
#include "directory/records.hpp"
#include "villagebot/text.hpp"

namespace villagebot::directory {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxNameChars = 100;
constexpr std::size_t kMaxIdChars = 128;
constexpr std::array<std::string_view, 5> kIdentityKindsApi = {"wecom", "dingtalk", "feishu", "telegram", "slack"};

[[noreturn]] void bad_request(const std::string& message) {
  throw ApiError(400, "bad_request", message);
}
[[noreturn]] void invalid(const std::string& message) {
  throw ApiError(422, "invalid", message);
}
[[noreturn]] void not_found(const std::string& what, std::int64_t id) {
  throw ApiError(404, "not_found", "没有此" + what + " / no such " + what + ": " + std::to_string(id));
}
[[noreturn]] void conflict(const std::string& message) {
  throw ApiError(409, "conflict", message);
}
[[noreturn]] void out_of_scope() {
  throw ApiError(403, "out_of_scope", "超出您负责的范围 / outside the org units this token answers for");
}

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::size_t chars(std::string_view utf8) {
  return static_cast<std::size_t>(
      std::count_if(utf8.begin(), utf8.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

void only_keys(const json& body, std::initializer_list<std::string_view> keys) {
  if (!body.is_object()) bad_request("the body must be a JSON object");
  for (const auto& [key, value] : body.items())
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) bad_request("unknown field '" + key + "'");
}

// A text field: a string of valid, printable UTF-8 within the length limit.
// The blanks Excel and Chinese input methods leave around a value; the CSV
// import trims the same, so API and import store the same text.
std::string trimmed(std::string s) {
  static constexpr std::string_view kBlanks[] = {" ", "\t", "\xE3\x80\x80" /* U+3000 */, "\xC2\xA0" /* NBSP */,
                                                 "\xEF\xBB\xBF" /* BOM */};
  for (bool again = true; again;) {
    again = false;
    for (std::string_view b : kBlanks) {
      if (s.starts_with(b)) {
        s.erase(0, b.size());
        again = true;
      }
      if (s.ends_with(b)) {
        s.erase(s.size() - b.size());
        again = true;
      }
    }
  }
  return s;
}

std::string text_field(const json& value, const std::string& field, std::size_t max_chars, bool allow_empty) {
  if (!value.is_string()) bad_request(field + " must be a string");
  if (!text::valid_utf8(value.get_ref<const std::string&>())) bad_request(field + " is not valid UTF-8");
  const std::string s = trimmed(value.get<std::string>());
  if (!allow_empty && s.empty()) invalid(field + " 不能为空 / must not be empty");
  if (chars(s) > max_chars) invalid(field + " 过长 / is longer than " + std::to_string(max_chars) + " characters");
  if (std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }))
    invalid(field + " 含控制字符 / contains a line break or control character");
  return s;
}

// An id field: null (→ 0) or a positive integer.
std::int64_t id_field(const json& value, const std::string& field) {
  if (value.is_null()) return 0;
  if (!value.is_number_integer() || value.get<std::int64_t>() <= 0)
    bad_request(field + " must be a positive id or null");
  return value.get<std::int64_t>();
}

bool bool_field(const json& value, const std::string& field) {
  if (!value.is_boolean()) bad_request(field + " must be true or false");
  return value.get<bool>();
}

Value id_or_null(std::int64_t id) {
  return id > 0 ? Value{id} : Value{nullptr};
}

json page_of(json items, std::int64_t total, Paging p) {
  return {{"items", std::move(items)}, {"total", total}, {"page", p.page}, {"per_page", p.per_page}};
}

std::string known_role(const std::string& role) {
  for (auto r : all_roles())
    if (r == role) return role;
  for (auto r : all_roles())
    if (role_chinese(r) == role) return std::string(r);
  invalid("未知角色 / unknown role: " + role);
}

void check_grant(const Caller& caller, const std::string& role) {
  if (!caller.may_grant_any_role && (role == role::kAdmin || role == role::kSupervisor))
    throw ApiError(403, "forbidden", "村干部不能授予或撤销此角色 / a cadre may not grant or remove the role " + role);
}

std::string lang_field(const json& value) {
  const std::string l = text_field(value, "lang", 10, false);
  if (l == "zh-CN" || l == "zh") return "zh-CN";
  if (l == "en") return "en";
  invalid("lang must be zh-CN or en");
}

std::string channel_field(const json& value) {
  const std::string c = text_field(value, "channel_preference", 20, true);
  if (c.empty() || c == "sms") return c;
  for (auto k : kIdentityKindsApi)
    if (c == k) return c;
  invalid("channel_preference must be \"\", sms, wecom, dingtalk, feishu, telegram or slack");
}

std::string kind_field(const std::string& kind) {
  for (auto k : kIdentityKindsApi)
    if (kind == k) return kind;
  invalid("未知账号类型 / unknown identity kind: " + kind + " (wecom, dingtalk, feishu, telegram, slack)");
}

// --- database helpers (inside a session)

// The village root's id; 0 when the directory is still empty.
std::int64_t root_unit(Session& s) {
  auto rows = s.query("SELECT id FROM core_org_units WHERE path = ''");
  return rows.empty() ? 0 : rows[0].integer(0);
}

// Inside a change: the root, created when the directory is still empty.
std::int64_t ensure_root(Session& s) {
  if (const std::int64_t root = root_unit(s)) return root;
  s.execute("INSERT INTO core_org_units (parent_id, name, path) VALUES (NULL, '本村', '')");
  return s.last_insert_id();
}

std::vector<std::int64_t> subtree(Session& s, std::int64_t unit) {
  std::vector<std::int64_t> out;
  for (const Row& r : s.query("WITH RECURSIVE sub(id) AS (SELECT ? UNION SELECT u.id FROM core_org_units u JOIN sub "
                              "ON u.parent_id = sub.id) SELECT id FROM sub",
                              {unit}))
    out.push_back(r.integer(0));
  return out;
}

// The unit a NULL org_unit_id means: the village root.
std::int64_t unit_or_root(Session& s, const Row& r, std::size_t column) {
  return r.is_null(column) ? root_unit(s) : r.integer(column);
}

void require_scope(Session& s, const Caller& c, std::int64_t unit) {
  if (!c.scope.contains(unit > 0 ? unit : root_unit(s))) out_of_scope();
}

std::string scope_units_json(const Scope& scope) {
  std::vector<std::int64_t> v(scope.units.begin(), scope.units.end());
  return json(v).dump();
}

struct UnitRow {
  std::int64_t id, parent;
  std::string name, path;
};
std::optional<UnitRow> unit_row(Session& s, std::int64_t id) {
  auto rows = s.query("SELECT id, COALESCE(parent_id, 0), name, path FROM core_org_units WHERE id = ?", {id});
  if (rows.empty()) return std::nullopt;
  return UnitRow{rows[0].integer(0), rows[0].integer(1), rows[0].text(2), rows[0].text(3)};
}

std::string child_path(const std::string& parent_path, const std::string& name) {
  return parent_path.empty() ? name : parent_path + "/" + name;
}

std::string unit_name_field(const json& value) {
  std::string name = text_field(value, "name", 50, false);
  if (name.find('/') != std::string::npos || name.find("\xEF\xBC\x8F") != std::string::npos)
    invalid("单位名称不能含“/” / a unit name may not contain '/'");
  if (name == "全村" || name == "*") invalid("“" + name + "”是保留名称 / is reserved for the whole village");
  return name;
}

std::int64_t existing_person(Session& s, std::int64_t id) {
  if (id > 0 && s.query("SELECT 1 FROM core_persons WHERE id = ?", {id}).empty())
    invalid("no person with id " + std::to_string(id));
  return id;
}

struct HouseholdRow {
  std::int64_t id, unit;
};
std::optional<HouseholdRow> household_row(Session& s, std::int64_t id) {
  auto rows = s.query("SELECT id, org_unit_id FROM core_households WHERE id = ?", {id});
  if (rows.empty()) return std::nullopt;
  return HouseholdRow{rows[0].integer(0), unit_or_root(s, rows[0], 1)};
}

struct PersonRowDb {
  std::int64_t id, household, unit;
};
std::optional<PersonRowDb> person_row(Session& s, std::int64_t id) {
  auto rows = s.query("SELECT id, COALESCE(household_id, 0), org_unit_id FROM core_persons WHERE id = ?", {id});
  if (rows.empty()) return std::nullopt;
  return PersonRowDb{rows[0].integer(0), rows[0].integer(1), unit_or_root(s, rows[0], 2)};
}

std::int64_t existing_unit(Session& s, std::int64_t id) {
  if (!unit_row(s, id)) invalid("no org unit with id " + std::to_string(id));
  return id;
}

void set_identity_in(Session& s, std::int64_t person, const std::string& kind, const std::string& external_id) {
  auto owner = s.query("SELECT person_id FROM core_identities WHERE kind = ? AND external_id = ?", {kind, external_id});
  if (!owner.empty() && owner[0].integer(0) != person)
    conflict("此" + kind + "账号已属于他人 / this " + kind + " id belongs to person " +
             std::to_string(owner[0].integer(0)));
  s.execute("DELETE FROM core_identities WHERE person_id = ? AND kind = ?", {person, kind});
  s.execute("INSERT INTO core_identities (person_id, kind, external_id) VALUES (?, ?, ?)", {person, kind, external_id});
}

}  // namespace

template <typename Fn>
auto DirectoryAdmin::change(Fn&& fn) {
  auto result = storage_.write(std::forward<Fn>(fn));
  if (on_change_) on_change_();
  return result;
}

Scope DirectoryAdmin::scope_of(std::int64_t person_id) {
  Scope scope;
  if (person_id <= 0) return scope;
  storage_.read([&](Session& s) {
    for (const Row& r : s.query("SELECT id FROM core_org_units WHERE responsible_person_id = ?", {person_id})) {
      scope.roots.push_back(r.integer(0));
      for (std::int64_t u : subtree(s, r.integer(0))) scope.units.insert(u);
    }
  });
  // Answering for the village root is answering for the whole village.
  scope.whole_village = scope.roots.empty() || storage_.read([&](Session& s) {
    const std::int64_t root = root_unit(s);
    return root > 0 && scope.units.contains(root);
  });
  return scope;
}

// ---------------------------------------------------------------- org units

json DirectoryAdmin::list_org_units(const Caller& c, const std::string& q, Paging p) {
  return storage_.read([&](Session& s) {
    std::string where = " WHERE (? = '' OR instr(name, ?) > 0 OR instr(path, ?) > 0)";
    std::vector<Value> params{q, q, q};
    if (!c.scope.whole_village) {
      where += " AND id IN (SELECT value FROM json_each(?))";
      params.emplace_back(scope_units_json(c.scope));
    }
    const auto total = s.query("SELECT COUNT(*) FROM core_org_units" + where, params).at(0).integer(0);
    params.emplace_back(p.per_page);
    params.emplace_back((p.page - 1) * p.per_page);
    json items = json::array();
    for (const Row& r : s.query("SELECT id FROM core_org_units" + where + " ORDER BY path LIMIT ? OFFSET ?", params))
      items.push_back(org_unit_record(s, r.integer(0)));
    return page_of(std::move(items), total, p);
  });
}

json DirectoryAdmin::get_org_unit(const Caller& c, std::int64_t id) {
  return storage_.read([&](Session& s) {
    json unit = org_unit_record(s, id);
    if (unit.is_null()) not_found("单位 org unit", id);
    require_scope(s, c, id);
    return unit;
  });
}

json DirectoryAdmin::create_org_unit(const Caller& c, const json& body) {
  only_keys(body, {"name", "parent_id", "responsible_person_id"});
  if (!body.contains("name")) bad_request("name is required");
  const std::string name = unit_name_field(body["name"]);
  return change([&](Session& s) {
    std::int64_t parent = body.contains("parent_id") ? id_field(body["parent_id"], "parent_id") : 0;
    if (parent == 0) parent = ensure_root(s);
    const auto parent_row = unit_row(s, parent);
    if (!parent_row) invalid("no org unit with id " + std::to_string(parent));
    require_scope(s, c, parent);
    const std::int64_t responsible =
        body.contains("responsible_person_id")
            ? existing_person(s, id_field(body["responsible_person_id"], "responsible_person_id"))
            : 0;
    const std::string path = child_path(parent_row->path, name);
    if (!s.query("SELECT 1 FROM core_org_units WHERE path = ?", {path}).empty())
      conflict("已有此单位 / an org unit with this path exists: " + path);
    s.execute("INSERT INTO core_org_units (parent_id, name, path, responsible_person_id) VALUES (?, ?, ?, ?)",
              {parent, name, path, id_or_null(responsible)});
    const std::int64_t id = s.last_insert_id();
    json after = org_unit_record(s, id);
    audit::record(s, c.actor, {"org_unit.create", "org_unit", std::to_string(id), nullptr, after});
    return after;
  });
}

json DirectoryAdmin::update_org_unit(const Caller& c, std::int64_t id, const json& body) {
  only_keys(body, {"name", "parent_id", "responsible_person_id"});
  return change([&](Session& s) {
    const auto unit = unit_row(s, id);
    if (!unit) not_found("单位 org unit", id);
    require_scope(s, c, id);
    json before = org_unit_record(s, id);
    std::string name = unit->name;
    std::int64_t parent = unit->parent;
    if (body.contains("name")) name = unit_name_field(body["name"]);
    if (body.contains("parent_id")) {
      if (unit->path.empty()) invalid("the village root has no parent");
      parent = id_field(body["parent_id"], "parent_id");
      if (parent == 0) parent = ensure_root(s);
      existing_unit(s, parent);
      require_scope(s, c, parent);
      const auto below = subtree(s, id);
      if (std::find(below.begin(), below.end(), parent) != below.end())
        invalid("不能移到自己的下级 / a unit cannot move under itself");
    }
    if (body.contains("responsible_person_id")) {
      const std::int64_t person = existing_person(s, id_field(body["responsible_person_id"], "responsible_person_id"));
      s.execute("UPDATE core_org_units SET responsible_person_id = ? WHERE id = ?", {id_or_null(person), id});
    }
    if (!unit->path.empty() && (name != unit->name || parent != unit->parent)) {
      const auto parent_row = unit_row(s, parent);
      const std::string path = child_path(parent_row->path, name);
      if (path != unit->path && !s.query("SELECT 1 FROM core_org_units WHERE path = ?", {path}).empty())
        conflict("已有此单位 / an org unit with this path exists: " + path);
      // The subtree's paths follow: old/... → new/...
      // SQLite's substr and length count characters, not bytes: measure in SQL.
      s.execute(
          "UPDATE core_org_units SET path = ? || substr(path, length(?) + 1) WHERE substr(path, 1, length(?)) = ?",
          {path, unit->path, unit->path + "/", unit->path + "/"});
      s.execute("UPDATE core_org_units SET name = ?, parent_id = ?, path = ? WHERE id = ?", {name, parent, path, id});
    } else if (name != unit->name) {
      s.execute("UPDATE core_org_units SET name = ? WHERE id = ?", {name, id});
    }
    json after = org_unit_record(s, id);
    if (after != before) audit::record(s, c.actor, {"org_unit.update", "org_unit", std::to_string(id), before, after});
    return after;
  });
}

void DirectoryAdmin::delete_org_unit(const Caller& c, std::int64_t id) {
  change([&](Session& s) {
    const auto unit = unit_row(s, id);
    if (!unit) not_found("单位 org unit", id);
    require_scope(s, c, id);
    if (unit->path.empty()) conflict("不能删除本村 / the village root cannot be deleted");
    auto in_use = [&](const char* sql) { return s.query(sql, {id}).at(0).integer(0) > 0; };
    if (in_use("SELECT COUNT(*) FROM core_org_units WHERE parent_id = ?"))
      conflict("该单位还有下级单位 / the unit still has sub-units");
    if (in_use("SELECT COUNT(*) FROM core_households WHERE org_unit_id = ?"))
      conflict("该单位还有农户 / households still belong to the unit");
    if (in_use("SELECT COUNT(*) FROM core_persons WHERE org_unit_id = ?"))
      conflict("该单位还有人员 / persons still belong to the unit");
    json before = org_unit_record(s, id);
    s.execute("DELETE FROM core_org_units WHERE id = ?", {id});
    audit::record(s, c.actor, {"org_unit.delete", "org_unit", std::to_string(id), before, nullptr});
    return true;
  });
}

// ---------------------------------------------------------------- households

json DirectoryAdmin::list_households(const Caller& c, const std::string& q, std::int64_t org_unit_id, Paging p) {
  return storage_.read([&](Session& s) {
    std::string where = " WHERE (? = '' OR instr(code, ?) > 0 OR instr(head_name, ?) > 0)";
    std::vector<Value> params{q, q, q};
    const std::int64_t root = root_unit(s);
    if (org_unit_id > 0) {
      where += " AND COALESCE(org_unit_id, ?) IN (SELECT value FROM json_each(?))";
      params.emplace_back(root);
      params.emplace_back(json(subtree(s, org_unit_id)).dump());
    }
    if (!c.scope.whole_village) {
      where += " AND COALESCE(org_unit_id, ?) IN (SELECT value FROM json_each(?))";
      params.emplace_back(root);
      params.emplace_back(scope_units_json(c.scope));
    }
    const auto total = s.query("SELECT COUNT(*) FROM core_households" + where, params).at(0).integer(0);
    params.emplace_back(p.per_page);
    params.emplace_back((p.page - 1) * p.per_page);
    json items = json::array();
    for (const Row& r : s.query("SELECT id FROM core_households" + where + " ORDER BY code LIMIT ? OFFSET ?", params))
      items.push_back(household_record(s, r.integer(0)));
    return page_of(std::move(items), total, p);
  });
}

json DirectoryAdmin::get_household(const Caller& c, std::int64_t id) {
  return storage_.read([&](Session& s) {
    const auto h = household_row(s, id);
    if (!h) not_found("户 household", id);
    require_scope(s, c, h->unit);
    return household_record(s, id);
  });
}

json DirectoryAdmin::create_household(const Caller& c, const json& body) {
  only_keys(body, {"code", "head_name", "org_unit_id", "central_household_id"});
  if (!body.contains("code")) bad_request("code is required");
  const std::string code = text_field(body["code"], "code", kMaxIdChars, false);
  const std::string head =
      body.contains("head_name") ? text_field(body["head_name"], "head_name", kMaxNameChars, true) : "";
  return change([&](Session& s) {
    std::int64_t unit = body.contains("org_unit_id") ? id_field(body["org_unit_id"], "org_unit_id") : 0;
    if (unit == 0) unit = ensure_root(s);
    existing_unit(s, unit);
    require_scope(s, c, unit);
    std::int64_t central =
        body.contains("central_household_id") ? id_field(body["central_household_id"], "central_household_id") : 0;
    if (central > 0 && !household_row(s, central)) invalid("no household with id " + std::to_string(central));
    if (!s.query("SELECT 1 FROM core_households WHERE code = ?", {code}).empty())
      conflict("户号已存在 / the household code is taken: " + code);
    s.execute("INSERT INTO core_households (code, head_name, org_unit_id, central_household_id) VALUES (?, ?, ?, ?)",
              {code, head, unit, id_or_null(central)});
    const std::int64_t id = s.last_insert_id();
    json after = household_record(s, id);
    audit::record(s, c.actor, {"household.create", "household", std::to_string(id), nullptr, after});
    return after;
  });
}

json DirectoryAdmin::update_household(const Caller& c, std::int64_t id, const json& body) {
  only_keys(body, {"code", "head_name", "org_unit_id", "central_household_id"});
  return change([&](Session& s) {
    const auto h = household_row(s, id);
    if (!h) not_found("户 household", id);
    require_scope(s, c, h->unit);
    json before = household_record(s, id);
    if (body.contains("code")) {
      const std::string code = text_field(body["code"], "code", kMaxIdChars, false);
      if (!s.query("SELECT 1 FROM core_households WHERE code = ? AND id <> ?", {code, id}).empty())
        conflict("户号已存在 / the household code is taken: " + code);
      s.execute("UPDATE core_households SET code = ? WHERE id = ?", {code, id});
    }
    if (body.contains("head_name"))
      s.execute("UPDATE core_households SET head_name = ? WHERE id = ?",
                {text_field(body["head_name"], "head_name", kMaxNameChars, true), id});
    if (body.contains("org_unit_id")) {
      std::int64_t unit = id_field(body["org_unit_id"], "org_unit_id");
      if (unit == 0) unit = ensure_root(s);
      existing_unit(s, unit);
      require_scope(s, c, unit);
      // Members who lived in the household's unit move with it.
      s.execute(
          "UPDATE core_persons SET org_unit_id = ?, updated_at = ? WHERE household_id = ? AND "
          "COALESCE(org_unit_id, 0) IN (?, 0)",
          {unit, now_s(), id, h->unit});
      s.execute("UPDATE core_households SET org_unit_id = ? WHERE id = ?", {unit, id});
    }
    if (body.contains("central_household_id")) {
      const std::int64_t central = id_field(body["central_household_id"], "central_household_id");
      if (central > 0 && !household_row(s, central)) invalid("no household with id " + std::to_string(central));
      if (central == id) invalid("a household cannot be linked to itself");
      s.execute("UPDATE core_households SET central_household_id = ? WHERE id = ?", {id_or_null(central), id});
    }
    json after = household_record(s, id);
    if (after != before)
      audit::record(s, c.actor, {"household.update", "household", std::to_string(id), before, after});
    return after;
  });
}

void DirectoryAdmin::delete_household(const Caller& c, std::int64_t id) {
  change([&](Session& s) {
    const auto h = household_row(s, id);
    if (!h) not_found("户 household", id);
    require_scope(s, c, h->unit);
    if (s.query("SELECT COUNT(*) FROM core_persons WHERE household_id = ?", {id}).at(0).integer(0) > 0)
      conflict("该户还有成员 / the household still has members");
    json before = household_record(s, id);
    s.execute("UPDATE core_households SET central_household_id = NULL WHERE central_household_id = ?", {id});
    s.execute("DELETE FROM core_households WHERE id = ?", {id});
    audit::record(s, c.actor, {"household.delete", "household", std::to_string(id), before, nullptr});
    return true;
  });
}

// ---------------------------------------------------------------- persons

json DirectoryAdmin::list_persons(const Caller& c, const PersonFilter& f, Paging p) {
  return storage_.read([&](Session& s) {
    std::string where = " WHERE 1";
    std::vector<Value> params;
    const std::int64_t root = root_unit(s);
    if (!f.q.empty()) {
      std::string digits;
      for (char ch : f.q)
        if (ch >= '0' && ch <= '9') digits += ch;
      where += " AND (instr(name, ?) > 0 OR (? <> '' AND instr(phone, ?) > 0))";
      params.emplace_back(f.q);
      params.emplace_back(digits.size() >= 3 ? digits : std::string());
      params.emplace_back(digits);
    }
    if (!f.role.empty()) {
      where += " AND id IN (SELECT person_id FROM core_person_roles WHERE role = ?)";
      params.emplace_back(f.role);
    }
    if (f.household_id > 0) {
      where += " AND household_id = ?";
      params.emplace_back(f.household_id);
    }
    if (f.org_unit_id > 0) {
      where += " AND COALESCE(org_unit_id, ?) IN (SELECT value FROM json_each(?))";
      params.emplace_back(root);
      params.emplace_back(json(subtree(s, f.org_unit_id)).dump());
    }
    if (!c.scope.whole_village) {
      where += " AND COALESCE(org_unit_id, ?) IN (SELECT value FROM json_each(?))";
      params.emplace_back(root);
      params.emplace_back(scope_units_json(c.scope));
    }
    const auto total = s.query("SELECT COUNT(*) FROM core_persons" + where, params).at(0).integer(0);
    params.emplace_back(p.per_page);
    params.emplace_back((p.page - 1) * p.per_page);
    json items = json::array();
    for (const Row& r : s.query("SELECT id FROM core_persons" + where + " ORDER BY id LIMIT ? OFFSET ?", params))
      items.push_back(person_record(s, r.integer(0)));
    return page_of(std::move(items), total, p);
  });
}

json DirectoryAdmin::get_person(const Caller& c, std::int64_t id) {
  return storage_.read([&](Session& s) {
    const auto p = person_row(s, id);
    if (!p) not_found("人员 person", id);
    require_scope(s, c, p->unit);
    return person_record(s, id);
  });
}

namespace {

// The person fields of a POST or PUT body, applied to person `id`.
void apply_person_fields(Session& s, const Caller& c, std::int64_t id, const json& body, bool is_new) {
  const auto now = now_s();
  if (body.contains("name"))
    s.execute("UPDATE core_persons SET name = ? WHERE id = ?",
              {text_field(body["name"], "name", kMaxNameChars, false), id});
  if (body.contains("phone")) {
    const std::string raw = text_field(body["phone"], "phone", 30, false);
    const auto e164 = text::normalise_phone(raw);
    if (!e164) invalid("手机号无效 / not a valid phone number: " + raw);
    if (!s.query("SELECT 1 FROM core_persons WHERE phone = ? AND id <> ?", {*e164, id}).empty())
      conflict("手机号已登记 / the phone number belongs to another person");
    s.execute("UPDATE core_persons SET phone = ? WHERE id = ?", {*e164, id});
  }
  const auto current = person_row(s, id);
  std::int64_t household = current->household;
  std::int64_t unit = current->unit;
  if (body.contains("household_id")) {
    household = id_field(body["household_id"], "household_id");
    if (household == 0) invalid("household_id is required: every person belongs to a household");
    const auto h = household_row(s, household);
    if (!h) invalid("no household with id " + std::to_string(household));
    if (!body.contains("org_unit_id")) unit = h->unit;
  }
  if (body.contains("org_unit_id") && !body["org_unit_id"].is_null()) {
    const std::int64_t asked = id_field(body["org_unit_id"], "org_unit_id");
    const auto h = household_row(s, household);
    if (h && asked != h->unit)
      invalid("人员随户归属单位，请调整其户 / a person lives in their household's org unit: move the household");
  }
  if (household != current->household || unit != current->unit) {
    require_scope(s, c, unit);
    s.execute("UPDATE core_persons SET household_id = ?, org_unit_id = ? WHERE id = ?", {household, unit, id});
  }
  if (body.contains("lang")) s.execute("UPDATE core_persons SET lang = ? WHERE id = ?", {lang_field(body["lang"]), id});
  if (body.contains("opted_out"))
    s.execute("UPDATE core_persons SET opted_out = ? WHERE id = ?",
              {std::int64_t{bool_field(body["opted_out"], "opted_out") ? 1 : 0}, id});
  if (body.contains("channel_preference"))
    s.execute("UPDATE core_persons SET channel_preference = ? WHERE id = ?",
              {channel_field(body["channel_preference"]), id});
  if (body.contains("roles") || is_new) {
    std::vector<std::string> wanted{std::string(role::kVillager)};
    if (body.contains("roles")) {
      if (!body["roles"].is_array()) bad_request("roles must be a list of role names");
      for (const auto& r : body["roles"]) {
        if (!r.is_string()) bad_request("roles must be a list of role names");
        std::string name = known_role(r.get<std::string>());
        if (std::find(wanted.begin(), wanted.end(), name) == wanted.end()) wanted.push_back(std::move(name));
      }
    }
    std::vector<std::string> stored;
    for (const Row& r : s.query("SELECT role FROM core_person_roles WHERE person_id = ?", {id}))
      stored.push_back(r.text(0));
    for (const auto& r : stored)
      if (std::find(wanted.begin(), wanted.end(), r) == wanted.end()) {
        check_grant(c, r);
        s.execute("DELETE FROM core_person_roles WHERE person_id = ? AND role = ?", {id, r});
      }
    for (const auto& r : wanted)
      if (std::find(stored.begin(), stored.end(), r) == stored.end()) {
        check_grant(c, r);
        s.execute("INSERT INTO core_person_roles (person_id, role) VALUES (?, ?)", {id, r});
      }
  }
  if (body.contains("identities")) {
    const json& ids = body["identities"];
    if (!ids.is_object()) bad_request("identities must be an object {\"wecom\": \"id\", ...}");
    for (const auto& [kind, value] : ids.items()) {
      const std::string k = kind_field(kind);
      if (value.is_null() || (value.is_string() && value.get_ref<const std::string&>().empty())) {
        s.execute("DELETE FROM core_identities WHERE person_id = ? AND kind = ?", {id, k});
        continue;
      }
      set_identity_in(s, id, k, text_field(value, "identities." + k, kMaxIdChars, false));
    }
  }
  s.execute("UPDATE core_persons SET updated_at = ? WHERE id = ?", {now, id});
}

}  // namespace

json DirectoryAdmin::create_person(const Caller& c, const json& body) {
  only_keys(body, {"name", "phone", "household_id", "org_unit_id", "roles", "identities", "lang", "opted_out",
                   "channel_preference"});
  for (const char* required : {"name", "phone", "household_id"})
    if (!body.contains(required)) bad_request(std::string(required) + " is required");
  return change([&](Session& s) {
    const std::int64_t household = id_field(body["household_id"], "household_id");
    const auto h = household > 0 ? household_row(s, household) : std::nullopt;
    if (!h) invalid("no household with id " + std::to_string(household));
    // A person lives in their household's unit (apply_person_fields refuses another).
    const std::int64_t unit = h->unit;
    require_scope(s, c, unit);
    const auto now = now_s();
    // Inserted bare (phone NULL: the column is UNIQUE), then every field is validated and applied.
    s.execute(
        "INSERT INTO core_persons (name, phone, household_id, org_unit_id, created_at, updated_at) "
        "VALUES ('', NULL, ?, ?, ?, ?)",
        {household, unit, now, now});
    const std::int64_t id = s.last_insert_id();
    apply_person_fields(s, c, id, body, true);
    json after = person_record(s, id);
    audit::record(s, c.actor, {"person.create", "person", std::to_string(id), nullptr, after});
    return after;
  });
}

json DirectoryAdmin::update_person(const Caller& c, std::int64_t id, const json& body) {
  only_keys(body, {"name", "phone", "household_id", "org_unit_id", "roles", "identities", "lang", "opted_out",
                   "channel_preference"});
  return change([&](Session& s) {
    const auto p = person_row(s, id);
    if (!p) not_found("人员 person", id);
    require_scope(s, c, p->unit);
    json before = person_record(s, id);
    apply_person_fields(s, c, id, body, false);
    json after = person_record(s, id);
    json compare_before = before, compare_after = after;
    compare_before.erase("updated_at");
    compare_after.erase("updated_at");
    if (compare_after != compare_before)
      audit::record(s, c.actor, {"person.update", "person", std::to_string(id), before, after});
    return after;
  });
}

void DirectoryAdmin::delete_person(const Caller& c, std::int64_t id) {
  change([&](Session& s) {
    const auto p = person_row(s, id);
    if (!p) not_found("人员 person", id);
    require_scope(s, c, p->unit);
    json before = person_record(s, id);
    for (const auto& r : before["roles"]) check_grant(c, r.get<std::string>());
    s.execute("UPDATE core_org_units SET responsible_person_id = NULL WHERE responsible_person_id = ?", {id});
    // A token that acted for this person is revoked, not widened: without its person a cadre's
    // token would reach the whole village.
    s.execute(
        "UPDATE core_tokens SET person_id = NULL, revoked_at = COALESCE(revoked_at, CAST(strftime('%s','now') AS "
        "INTEGER)) WHERE person_id = ?",
        {id});
    s.execute("DELETE FROM core_persons WHERE id = ?", {id});  // roles and identities cascade
    audit::record(s, c.actor, {"person.delete", "person", std::to_string(id), before, nullptr});
    return true;
  });
}

// ---------------------------------------------------------------- roles, identities

json DirectoryAdmin::roles(const Caller& c) {
  return storage_.read([&](Session& s) {
    json items = json::array();
    for (auto r : all_roles()) {
      std::string sql =
          "SELECT COUNT(*) FROM core_person_roles r JOIN core_persons p ON p.id = r.person_id WHERE r.role = ?";
      std::vector<Value> params{std::string(r)};
      if (!c.scope.whole_village) {
        sql += " AND COALESCE(p.org_unit_id, ?) IN (SELECT value FROM json_each(?))";
        params.emplace_back(root_unit(s));
        params.emplace_back(scope_units_json(c.scope));
      }
      items.push_back({{"role", r}, {"name_zh", role_chinese(r)}, {"count", s.query(sql, params).at(0).integer(0)}});
    }
    return json{{"items", std::move(items)}};
  });
}

json DirectoryAdmin::add_role(const Caller& c, std::int64_t person_id, const json& body) {
  only_keys(body, {"role"});
  if (!body.contains("role") || !body["role"].is_string()) bad_request("role is required");
  const std::string role = known_role(body["role"].get<std::string>());
  check_grant(c, role);
  return change([&](Session& s) {
    const auto p = person_row(s, person_id);
    if (!p) not_found("人员 person", person_id);
    require_scope(s, c, p->unit);
    json before = person_record(s, person_id);
    if (s.execute("INSERT OR IGNORE INTO core_person_roles (person_id, role) VALUES (?, ?)", {person_id, role}) > 0) {
      json after = person_record(s, person_id);
      audit::record(s, c.actor, {"person.role.add", "person", std::to_string(person_id), before, after});
      return after;
    }
    return before;
  });
}

json DirectoryAdmin::remove_role(const Caller& c, std::int64_t person_id, const std::string& role_name) {
  const std::string role = known_role(role_name);
  if (role == role::kVillager) invalid("每个人都是村民 / every person is a villager; this role cannot be removed");
  check_grant(c, role);
  return change([&](Session& s) {
    const auto p = person_row(s, person_id);
    if (!p) not_found("人员 person", person_id);
    require_scope(s, c, p->unit);
    json before = person_record(s, person_id);
    if (s.execute("DELETE FROM core_person_roles WHERE person_id = ? AND role = ?", {person_id, role}) > 0) {
      json after = person_record(s, person_id);
      audit::record(s, c.actor, {"person.role.remove", "person", std::to_string(person_id), before, after});
      return after;
    }
    return before;
  });
}

json DirectoryAdmin::identities(const Caller& c, std::int64_t person_id) {
  return storage_.read([&](Session& s) {
    const auto p = person_row(s, person_id);
    if (!p) not_found("人员 person", person_id);
    require_scope(s, c, p->unit);
    json items = json::array();
    for (const Row& r :
         s.query("SELECT kind, external_id FROM core_identities WHERE person_id = ? ORDER BY kind", {person_id}))
      items.push_back({{"kind", r.text(0)}, {"external_id", r.text(1)}});
    return json{{"items", std::move(items)}};
  });
}

json DirectoryAdmin::set_identity(const Caller& c, std::int64_t person_id, const std::string& kind_name,
                                  const json& body) {
  const std::string kind = kind_field(kind_name);
  only_keys(body, {"external_id"});
  if (!body.contains("external_id")) bad_request("external_id is required");
  const std::string external_id = text_field(body["external_id"], "external_id", kMaxIdChars, false);
  return change([&](Session& s) {
    const auto p = person_row(s, person_id);
    if (!p) not_found("人员 person", person_id);
    require_scope(s, c, p->unit);
    json before = person_record(s, person_id);
    set_identity_in(s, person_id, kind, external_id);
    json after = person_record(s, person_id);
    if (after != before)
      audit::record(s, c.actor, {"person.identity.set", "person", std::to_string(person_id), before, after});
    return after;
  });
}

json DirectoryAdmin::remove_identity(const Caller& c, std::int64_t person_id, const std::string& kind_name) {
  const std::string kind = kind_field(kind_name);
  return change([&](Session& s) {
    const auto p = person_row(s, person_id);
    if (!p) not_found("人员 person", person_id);
    require_scope(s, c, p->unit);
    json before = person_record(s, person_id);
    if (s.execute("DELETE FROM core_identities WHERE person_id = ? AND kind = ?", {person_id, kind}) == 0)
      throw ApiError(404, "not_found", "此人没有" + kind + "账号 / the person has no " + kind + " identity");
    json after = person_record(s, person_id);
    audit::record(s, c.actor, {"person.identity.remove", "person", std::to_string(person_id), before, after});
    return after;
  });
}

json DirectoryAdmin::audience(const Caller& c, const json& body) {
  Audience audience;
  try {
    audience = audience_from_json(body);
  } catch (const std::invalid_argument& e) {
    bad_request(e.what());
  }
  restrict_to_scope(c, audience);
  const std::vector<std::int64_t> ids = directory_.resolve(audience);
  return json{{"count", ids.size()}, {"person_ids", ids}};
}

void DirectoryAdmin::restrict_to_scope(const Caller& c, Audience& audience) {
  if (c.scope.whole_village) return;
  if (audience.within_org_units.empty()) {
    audience.within_org_units = c.scope.roots;
    return;
  }
  // Both: keep the given units that lie inside the scope (a unit inside a root's subtree).
  std::vector<std::int64_t> kept;
  for (std::int64_t u : audience.within_org_units)
    if (c.scope.contains(u)) kept.push_back(u);
  if (kept.empty()) out_of_scope();
  audience.within_org_units = std::move(kept);
}

}  // namespace villagebot::directory
