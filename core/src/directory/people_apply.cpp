// Writing a checked people register into the core tables. Every change is
// made only where the stored value differs, so re-importing the same file
// changes nothing (and a big re-import costs reads, not writes).
#include <algorithm>
#include <ctime>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "directory/people_plan.hpp"
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
      db.remember_household(hh.code, StoredHousehold{hh.id, hh.head, hh.unit_id, 0});
      continue;
    }
    hh.id = stored->id;
    const std::string head = header_.has(Column::head) ? hh.head : stored->head_name;
    if (head != stored->head_name || hh.unit_id != stored->org_unit_id)
      change(session.execute("UPDATE core_households SET head_name = ?, org_unit_id = ? WHERE id = ?",
                             {head, id_or_null(hh.unit_id), hh.id}));
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
        lang != stored->lang)
      change(session.execute(
          "UPDATE core_persons SET name = ?, household_id = ?, org_unit_id = ?, lang = ?, updated_at = ? WHERE id = ?",
          {row.name, hh.id, id_or_null(hh.unit_id), lang, now, id}));
  } else {
    change(session.execute(
        "INSERT INTO core_persons (name, phone, household_id, org_unit_id, lang, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        {row.name, row.phone, hh.id, id_or_null(hh.unit_id), row.lang, now, now}));
    id = session.last_insert_id();
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
    if (!have.empty())
      change(session.execute("DELETE FROM core_identities WHERE person_id = ? AND kind = ?", {id, kind}));
    if (wanted.empty()) continue;
    // Checked beforehand: a previous holder is in the file and gives it up.
    if (auto owner = db.identity_owner(kind, wanted); owner && *owner != row.phone)
      change(session.execute("DELETE FROM core_identities WHERE kind = ? AND external_id = ?", {kind, wanted}));
    change(session.execute("INSERT INTO core_identities (person_id, kind, external_id) VALUES (?, ?, ?)",
                           {id, kind, wanted}));
  }
}

void PeopleImport::apply_central(Session& session, Lookup& db) {
  for (const HouseholdPlan& hh : households_) {
    std::int64_t central = 0;
    if (!hh.central.empty()) {
      auto in_file = household_index_.find(hh.central);
      central = in_file != household_index_.end() ? households_[in_file->second].id : db.household(hh.central)->id;
    }
    const auto stored = db.household(hh.code);  // remembered with central 0 when just created
    if (stored && stored->central_household_id == central) continue;
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
      change(session.execute("UPDATE core_org_units SET responsible_person_id = NULL WHERE id = ?", {unit}));
    }
  }
  for (const auto& [unit, person] : wanted)
    change(session.execute("UPDATE core_org_units SET responsible_person_id = ? WHERE id = ?", {person, unit}));
}

std::int64_t PeopleImport::apply(Session& session, Lookup& db) {
  changed_ = 0;
  apply_households(session, db);
  std::vector<std::int64_t> person_ids(rows_.size(), 0);
  for (const HouseholdPlan& hh : households_)
    for (std::size_t i : hh.rows) person_ids[i] = apply_person(session, db, rows_[i], hh);
  // After every household exists, so a link may point forward in the file.
  if (header_.has(Column::central)) apply_central(session, db);
  if (header_.has(Column::responsible)) apply_responsible(session, db, person_ids);
  return changed_;
}

}  // namespace villagebot::directory
