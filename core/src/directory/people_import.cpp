#include "directory/people_import.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <nlohmann/json.hpp>

#include "directory/people_plan.hpp"
#include "villagebot/crypto.hpp"
#include "villagebot/directory.hpp"
#include "villagebot/text.hpp"

namespace villagebot::directory {

namespace {

std::string line_ref(int line) {
  return std::to_string(line);
}

}  // namespace

std::optional<StoredHousehold> Lookup::household(const std::string& code) {
  auto it = households_.find(code);
  if (it != households_.end()) return it->second;
  auto rows = session_.query(
      "SELECT id, head_name, org_unit_id, central_household_id FROM core_households WHERE code = ?", {code});
  std::optional<StoredHousehold> found;
  if (!rows.empty())
    found = StoredHousehold{rows[0].integer(0), rows[0].text(1), rows[0].integer(2), rows[0].integer(3)};
  households_.emplace(code, found);
  return found;
}

std::optional<StoredPerson> Lookup::person(const std::string& phone) {
  auto it = persons_.find(phone);
  if (it != persons_.end()) return it->second;
  auto rows =
      session_.query("SELECT id, name, household_id, org_unit_id, lang FROM core_persons WHERE phone = ?", {phone});
  std::optional<StoredPerson> found;
  if (!rows.empty())
    found = StoredPerson{rows[0].integer(0), rows[0].text(1), rows[0].integer(2), rows[0].integer(3), rows[0].text(4)};
  persons_.emplace(phone, found);
  return found;
}

std::optional<std::int64_t> Lookup::unit(const std::string& path) {
  auto it = units_.find(path);
  if (it != units_.end()) return it->second;
  auto rows = session_.query("SELECT id FROM core_org_units WHERE path = ?", {path});
  std::optional<std::int64_t> found;
  if (!rows.empty()) found = rows[0].integer(0);
  units_.emplace(path, found);
  return found;
}

std::optional<std::string> Lookup::identity_owner(std::string_view kind, const std::string& external_id) {
  std::string key = std::string(kind) + '\n' + external_id;
  auto it = identity_owners_.find(key);
  if (it != identity_owners_.end()) return it->second;
  auto rows = session_.query(
      "SELECT p.phone FROM core_identities i JOIN core_persons p ON p.id = i.person_id "
      "WHERE i.kind = ? AND i.external_id = ?",
      {std::string(kind), external_id});
  std::optional<std::string> found;
  if (!rows.empty()) found = rows[0].text(0);
  identity_owners_.emplace(std::move(key), found);
  return found;
}

void PeopleImport::check_duplicates() {
  std::unordered_map<std::string, int> phones;
  std::unordered_map<std::string, int> identities;
  for (PersonRow& row : rows_) {
    if (!row.phone.empty()) {
      auto [it, fresh] = phones.emplace(row.phone, row.line);
      if (!fresh)
        fail(row, Column::phone,
             "手机号与第 " + line_ref(it->second) + " 行重复 / phone number repeats line " + line_ref(it->second));
    }
    for (std::size_t k = 0; k < kIdentityColumnCount; ++k) {
      if (row.identities[k].empty()) continue;
      auto [it, fresh] = identities.emplace(std::string(kIdentityKinds[k]) + '\n' + row.identities[k], row.line);
      if (!fresh)
        fail(row, identity_column(k),
             "账号与第 " + line_ref(it->second) + " 行重复 / account repeats line " + line_ref(it->second));
    }
  }
}

void PeopleImport::merge(PersonRow& row, Column column, std::string& kept, int& kept_line, const std::string& value) {
  if (value.empty()) return;
  if (kept.empty()) {
    kept = value;
    kept_line = row.line;
  } else if (kept != value) {
    fail(row, column,
         "同一户与第 " + line_ref(kept_line) + " 行不一致（" + kept + "）/ differs from line " + line_ref(kept_line) +
             " of the same household (" + kept + ")");
  }
}

void PeopleImport::aggregate() {
  households_.clear();
  household_index_.clear();
  for (std::size_t i = 0; i < rows_.size(); ++i) {
    PersonRow& row = rows_[i];
    if (!included(row)) continue;
    auto [it, fresh] = household_index_.emplace(row.household, households_.size());
    if (fresh) {
      households_.emplace_back();
      households_.back().code = row.household;
    }
    HouseholdPlan& hh = households_[it->second];
    merge(row, Column::head, hh.head, hh.head_line, row.head);
    merge(row, Column::group, hh.group_path, hh.group_line, row.group_path);
    merge(row, Column::central, hh.central, hh.central_line, row.central);
    hh.rows.push_back(i);
  }
}

void PeopleImport::check_against(Lookup& db) {
  for (;;) {
    const std::size_t before = problems_.total();
    aggregate();
    for (HouseholdPlan& hh : households_) {
      if (hh.central.empty() || household_index_.contains(hh.central) || db.household(hh.central)) continue;
      for (std::size_t i : hh.rows)
        if (rows_[i].line == hh.central_line)
          fail(rows_[i], Column::central, "中心户户号不存在 / central household not found: " + hh.central);
    }
    std::unordered_set<std::string> phones;
    for (const PersonRow& row : rows_)
      if (included(row)) phones.insert(row.phone);
    std::unordered_map<std::string, int> responsible;
    for (PersonRow& row : rows_) {
      if (!included(row)) continue;
      for (std::size_t k = 0; k < kIdentityColumnCount; ++k) {
        if (row.identities[k].empty()) continue;
        // The owner's own row, if in the file, replaces that identity: then it may move.
        auto owner = db.identity_owner(kIdentityKinds[k], row.identities[k]);
        if (owner && *owner != row.phone && !phones.contains(*owner))
          fail(row, identity_column(k),
               "账号已属于另一人（" + text::mask_phone(*owner) + "）/ account already belongs to " +
                   text::mask_phone(*owner));
      }
      for (const std::string& path : row.responsible_for) {
        auto [it, fresh] = responsible.emplace(path, row.line);
        if (!fresh)
          fail(row, Column::responsible,
               "“" + (path.empty() ? std::string("全村") : path) + "”已由第 " + line_ref(it->second) +
                   " 行的人负责 / already the responsibility of the person on line " + line_ref(it->second));
      }
    }
    // Leaving a row out can break what another row relied on: go again.
    if (!options_.skip_bad || problems_.total() == before) break;
  }
}

void PeopleImport::count(Lookup& db, ImportReport& report) {
  std::unordered_set<std::string> units{""};
  auto need = [&units](const std::string& path) {
    for (std::size_t at = path.find('/'); at != std::string::npos; at = path.find('/', at + 1))
      units.insert(path.substr(0, at));
    units.insert(path);
  };
  for (const HouseholdPlan& hh : households_) {
    (db.household(hh.code) ? report.households_updated : report.households_created)++;
    need(hh.group_path);
    for (std::size_t i : hh.rows) {
      (db.person(rows_[i].phone) ? report.persons_updated : report.persons_created)++;
      for (const std::string& path : rows_[i].responsible_for) need(path);
    }
  }
  for (const std::string& path : units)
    if (!db.unit(path)) ++report.org_units_created;
}

ImportReport import_people(Storage& storage, std::string_view file_bytes, const ImportOptions& options) {
  ImportReport report;
  ProblemSink problems;
  auto finish = [&]() -> ImportReport {
    report.problems = problems.take();
    return report;
  };

  const auto text = decode_csv_bytes(file_bytes);
  if (!text) {
    problems.add(std::max(1, first_invalid_utf8_line(file_bytes)), "",
                 "文件编码无法识别，请另存为“CSV UTF-8” / the file is neither UTF-8 nor GBK: save it as CSV UTF-8");
    return finish();
  }
  CsvDocument doc = parse_csv(*text);
  if (doc.error) {
    problems.add(doc.error->line, "", doc.error->reason);
    return finish();
  }
  std::erase_if(doc.records, [](const CsvRecord& r) { return blank_record(r); });
  if (doc.records.empty()) {
    problems.add(1, "", "文件为空 / the file is empty");
    return finish();
  }
  auto header = parse_header(doc.records.front(), problems);
  if (!header) return finish();

  std::vector<PersonRow> rows;
  rows.reserve(doc.records.size() - 1);
  for (std::size_t i = 1; i < doc.records.size(); ++i) rows.push_back(parse_row(*header, doc.records[i], problems));
  report.rows = static_cast<int>(rows.size());
  doc = {};  // the parsed rows are all we need from here

  PeopleImport import(std::move(*header), std::move(rows), options, problems);
  import.check_duplicates();
  // A dry run applies in a transaction that is then rolled back: what it
  // reports is exactly what the real import would do.
  struct RollBack {};
  auto plan = [&](Session& session) -> bool {
    Lookup db(session);
    import.check_against(db);
    if (!problems.empty() && !options.skip_bad) return false;
    import.count(db, report);
    if (!import.anything_to_apply()) return false;
    const bool changed = import.apply(session, db) > 0;
    import.record_changes(session, report);
    if (options.dry_run) throw RollBack{};
    if (changed && options.actor) {
      audit::Change summary{"import.people", "import", "", nullptr,
                            nlohmann::json{{"rows", report.rows},
                                           {"changes", report.changes},
                                           {"persons_created", report.persons_created},
                                           {"persons_updated", report.persons_updated},
                                           {"households_created", report.households_created},
                                           {"households_updated", report.households_updated},
                                           {"org_units_created", report.org_units_created},
                                           {"skipped_problems", problems.total()},
                                           {"sha256", crypto::sha256_hex(file_bytes)}}};
      audit::record(session, *options.actor, summary);
    }
    return changed;
  };
  try {
    report.applied = storage.write([&](Session& s) { return plan(s); });
  } catch (const RollBack&) {
    report.applied = false;
  } catch (const StorageError& e) {
    // The transaction rolled back: nothing was written.
    const int rows_read = report.rows;
    report = ImportReport{};
    report.rows = rows_read;
    problems.add(0, "", std::string("数据库错误，未导入任何内容 / database error, nothing imported: ") + e.what());
  }
  return finish();
}

}  // namespace villagebot::directory
