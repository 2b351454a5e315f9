// Writing a checked people register into the core tables. Every change is
// made only where the stored value differs, so re-importing the same file
// changes nothing (and a big re-import costs reads, not writes).
#include <algorithm>
#include <ctime>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "directory/people_plan.hpp"
#include "directory/records.hpp"
#include "villagebot/directory.hpp"

namespace villagebot::directory {

namespace {

constexpr std::string_view kRootName = "本村";

Value id_or_null(std::int64_t id) {
  return id > 0 ? Value{id} : Value{nullptr};
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

std::int64_t PeopleImport::ensure_unit(Session& session, Lookup& db, const std::string& path) {
  if (auto id = db.unit(path)) return *id;
  const std::size_t slash = path.rfind('/');
  std::int64_t parent = 0;
  std::string name(kRootName);  // only when the village root itself is missing
  if (!path.empty()) {
    parent = ensure_unit(session, db, slash == std::string::npos ? std::string() : path.substr(0, slash));
    name = slash == std::string::npos ? path : path.substr(slash + 1);
  }
  change(session.execute("INSERT INTO core_org_units (parent_id, name, path) VALUES (?, ?, ?)",
                         {id_or_null(parent), name, path}));
  const std::int64_t id = session.last_insert_id();
  touch(session, Entity::org_unit, id, true);
  db.remember_unit(path, id);
  return id;
}

void PeopleImport::apply_households(Session& session, Lookup& db) {
  const std::int64_t root = ensure_unit(session, db, "");
  for (HouseholdPlan& hh : households_) {
    const auto stored = db.household(hh.code);
    if (header_.has(Column::group))
      hh.unit_id = ensure_unit(session, db, hh.group_path);
    else
      hh.unit_id = stored ? stored->org_unit_id : root;
    if (!stored) {
      change(session.execute("INSERT INTO core_households (code, head_name, org_unit_id) VALUES (?, ?, ?)",
                             {hh.code, hh.head, id_or_null(hh.unit_id)}));
      hh.id = session.last_insert_id();
      touch(session, Entity::household, hh.id, true);
      db.remember_household(hh.code, StoredHousehold{hh.id, hh.head, hh.unit_id, 0});
      continue;
    }
    hh.id = stored->id;
    const std::string head = header_.has(Column::head) ? hh.head : stored->head_name;
    if (head != stored->head_name || hh.unit_id != stored->org_unit_id) {
      touch(session, Entity::household, hh.id, false);
      change(session.execute("UPDATE core_households SET head_name = ?, org_unit_id = ? WHERE id = ?",
                             {head, id_or_null(hh.unit_id), hh.id}));
    }
  }
}

std::int64_t PeopleImport::apply_person(Session& session, Lookup& db, const PersonRow& row, const HouseholdPlan& hh) {
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  const auto stored = db.person(row.phone);
  std::int64_t id = 0;
  if (stored) {
    id = stored->id;
    const std::string lang = header_.has(Column::lang) ? row.lang : stored->lang;
    if (row.name != stored->name || hh.id != stored->household_id || hh.unit_id != stored->org_unit_id ||
        lang != stored->lang) {
      touch(session, Entity::person, id, false);
      change(session.execute(
          "UPDATE core_persons SET name = ?, household_id = ?, org_unit_id = ?, lang = ?, updated_at = ? WHERE id = ?",
          {row.name, hh.id, id_or_null(hh.unit_id), lang, now, id}));
    }
  } else {
    change(session.execute(
        "INSERT INTO core_persons (name, phone, household_id, org_unit_id, lang, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        {row.name, row.phone, hh.id, id_or_null(hh.unit_id), row.lang, now, now}));
    id = session.last_insert_id();
    touch(session, Entity::person, id, true);
  }
  apply_roles(session, id, !stored, row);
  apply_identities(session, db, id, !stored, row);
  return id;
}

void PeopleImport::apply_roles(Session& session, std::int64_t id, bool is_new, const PersonRow& row) {
  std::vector<std::string> stored;
  if (!is_new)
    for (const Row& r : session.query("SELECT role FROM core_person_roles WHERE person_id = ?", {id}))
      stored.push_back(r.text(0));
  std::vector<std::string> wanted = row.roles;   // starts with villager
  if (!is_new && !header_.has(Column::roles)) {  // roles kept, but every person is a villager
    wanted = stored;
    if (!contains(wanted, std::string(role::kVillager))) wanted.emplace_back(role::kVillager);
  }
  bool differs = false;
  for (const std::string& r : stored) differs = differs || !contains(wanted, r);
  for (const std::string& r : wanted) differs = differs || !contains(stored, r);
  if (differs) touch(session, Entity::person, id, false);
  for (const std::string& r : stored)
    if (!contains(wanted, r))
      change(session.execute("DELETE FROM core_person_roles WHERE person_id = ? AND role = ?", {id, r}));
  for (const std::string& r : wanted)
    if (!contains(stored, r))
      change(session.execute("INSERT INTO core_person_roles (person_id, role) VALUES (?, ?)", {id, r}));
}

void PeopleImport::apply_identities(Session& session, Lookup& db, std::int64_t id, bool is_new, const PersonRow& row) {
  std::vector<std::pair<std::string, std::string>> stored;  // kind, external id
  if (!is_new)
    for (const Row& r : session.query("SELECT kind, external_id FROM core_identities WHERE person_id = ?", {id}))
      stored.emplace_back(r.text(0), r.text(1));
  for (std::size_t k = 0; k < kIdentityColumnCount; ++k) {
    if (!header_.has(identity_column(k))) continue;
    const std::string kind(kIdentityKinds[k]);
    const std::string& wanted = row.identities[k];
    std::vector<std::string> have;
    for (const auto& [stored_kind, external_id] : stored)
      if (stored_kind == kind) have.push_back(external_id);
    if ((have.empty() && wanted.empty()) || (have.size() == 1 && have[0] == wanted)) continue;
    touch(session, Entity::person, id, false);
    if (!have.empty())
      change(session.execute("DELETE FROM core_identities WHERE person_id = ? AND kind = ?", {id, kind}));
    if (wanted.empty()) continue;
    // Checked beforehand: a previous holder is in the file and gives it up.
    if (auto owner = db.identity_owner(kind, wanted); owner && *owner != row.phone) {
      if (auto previous = db.person(*owner)) touch(session, Entity::person, previous->id, false);
      change(session.execute("DELETE FROM core_identities WHERE kind = ? AND external_id = ?", {kind, wanted}));
    }
    change(session.execute("INSERT INTO core_identities (person_id, kind, external_id) VALUES (?, ?, ?)",
                           {id, kind, wanted}));
  }
}

void PeopleImport::apply_central(Session& session, Lookup& db) {
  for (const HouseholdPlan& hh : households_) {
    std::int64_t central = 0;
    if (!hh.central.empty()) {
      auto in_file = household_index_.find(hh.central);
      if (in_file != household_index_.end()) {
        central = households_[in_file->second].id;
      } else if (const auto stored_central = db.household(hh.central)) {  // checked beforehand: it exists
        central = stored_central->id;
      }
    }
    const auto stored = db.household(hh.code);  // remembered with central 0 when just created
    if (stored && stored->central_household_id == central) continue;
    touch(session, Entity::household, hh.id, false);
    change(session.execute("UPDATE core_households SET central_household_id = ? WHERE id = ?",
                           {id_or_null(central), hh.id}));
  }
}

void PeopleImport::apply_responsible(Session& session, Lookup& db, const std::vector<std::int64_t>& person_ids) {
  std::unordered_map<std::int64_t, std::int64_t> wanted;  // unit → person
  for (std::size_t i = 0; i < rows_.size(); ++i)
    if (person_ids[i] > 0)
      for (const std::string& path : rows_[i].responsible_for) wanted[ensure_unit(session, db, path)] = person_ids[i];
  const std::unordered_set<std::int64_t> in_file(person_ids.begin(), person_ids.end());
  // Units are few, and responsible_person_id has no index: one scan.
  for (const Row& r : session.query("SELECT id, responsible_person_id FROM core_org_units "
                                    "WHERE responsible_person_id IS NOT NULL")) {
    const std::int64_t unit = r.integer(0);
    const std::int64_t person = r.integer(1);
    auto it = wanted.find(unit);
    if (it != wanted.end() && it->second == person) {
      wanted.erase(it);  // already so
    } else if (it == wanted.end() && in_file.contains(person)) {
      touch(session, Entity::org_unit, unit, false);
      change(session.execute("UPDATE core_org_units SET responsible_person_id = NULL WHERE id = ?", {unit}));
    }
  }
  for (const auto& [unit, person] : wanted) {
    touch(session, Entity::org_unit, unit, false);
    change(session.execute("UPDATE core_org_units SET responsible_person_id = ? WHERE id = ?", {person, unit}));
  }
}

void PeopleImport::touch(Session& session, Entity entity, std::int64_t id, bool created) {
  if (!touched_ids_[static_cast<int>(entity)].insert(id).second) return;
  nlohmann::json before;
  if (!created) {
    switch (entity) {
      case Entity::org_unit:
        before = org_unit_record(session, id);
        break;
      case Entity::household:
        before = household_record(session, id);
        break;
      case Entity::person:
        before = person_record(session, id);
        break;
    }
  }
  touched_.push_back(Touched{entity, id, std::move(before)});
}

namespace {

// "name, roles": the fields that differ.
std::string differing(const nlohmann::json& before, const nlohmann::json& after) {
  std::string out;
  for (const auto& [key, value] : after.items()) {
    if (key == "updated_at" || key == "members") continue;
    if (!before.contains(key) || before[key] != value) out += (out.empty() ? "" : ", ") + key;
  }
  return out;
}

}  // namespace

void PeopleImport::record_changes(Session& session, ImportReport& report) {
  for (Touched& t : touched_) {
    audit::Change c;
    c.before = std::move(t.before);
    std::string label;
    switch (t.entity) {
      case Entity::org_unit:
        c.entity = "org_unit";
        c.after = org_unit_record(session, t.id);
        label = c.after["path"].get<std::string>();
        if (label.empty()) label = "(本村 / village)";
        break;
      case Entity::household:
        c.entity = "household";
        c.after = household_record(session, t.id);
        label = c.after["code"].get<std::string>();
        break;
      case Entity::person:
        c.entity = "person";
        c.after = person_record(session, t.id);
        label = c.after["name"].get<std::string>() + " " + c.after["phone"].get<std::string>();
        break;
    }
    const bool created = c.before.is_null();
    c.action = c.entity + (created ? ".create" : ".update");
    c.entity_id = std::to_string(t.id);
    std::string line;
    if (created) {
      line = "+ " + c.entity + " " + label;
    } else {
      const std::string fields = differing(c.before, c.after);
      if (fields.empty()) continue;  // changed and changed back
      line = "~ " + c.entity + " " + label + ": " + fields;
    }
    ++report.changes;
    if (report.change_lines.size() < ImportReport::kMaxChangeLines) report.change_lines.push_back(std::move(line));
    if (options_.actor) audit::record(session, *options_.actor, c);
  }
  touched_.clear();
}

std::int64_t PeopleImport::apply(Session& session, Lookup& db) {
  changed_ = 0;
  apply_households(session, db);
  std::vector<std::int64_t> person_ids(rows_.size(), 0);
  std::size_t done = 0;
  for (const HouseholdPlan& hh : households_) {
    for (std::size_t i : hh.rows) person_ids[i] = apply_person(session, db, rows_[i], hh);
    done += hh.rows.size();
    if (options_.progress && (done % 1000 < hh.rows.size())) options_.progress(done, rows_.size());
  }
  if (options_.progress) options_.progress(rows_.size(), rows_.size());
  // After every household exists, so a link may point forward in the file.
  if (header_.has(Column::central)) apply_central(session, db);
  if (header_.has(Column::responsible)) apply_responsible(session, db, person_ids);
  return changed_;
}

}  // namespace villagebot::directory
