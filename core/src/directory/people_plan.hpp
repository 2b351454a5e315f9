#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>
#include <vector>

#include "directory/people_rows.hpp"
#include "villagebot/storage.hpp"

// Internal to the people import: the checks that need the whole file or the
// database (people_import.cpp) and the apply (people_apply.cpp).
namespace villagebot::directory {

struct StoredPerson {
  std::int64_t id = 0;
  std::string name;
  std::int64_t household_id = 0;
  std::int64_t org_unit_id = 0;
  std::string lang;
};

struct StoredHousehold {
  std::int64_t id = 0;
  std::string head_name;
  std::int64_t org_unit_id = 0;
  std::int64_t central_household_id = 0;
};

// What the database already holds, looked up key by key (the storage layer
// caches the prepared statements) and remembered, so a 100k-row file costs
// one indexed lookup per key. Lives for one transaction.
class Lookup {
 public:
  explicit Lookup(Session& session) : session_(session) {}

  std::optional<StoredHousehold> household(const std::string& code);
  void remember_household(const std::string& code, const StoredHousehold& h) { households_[code] = h; }
  std::optional<StoredPerson> person(const std::string& phone);
  std::optional<std::int64_t> unit(const std::string& path);
  void remember_unit(const std::string& path, std::int64_t id) { units_[path] = id; }
  // The phone of the person holding this chat identity before the import.
  std::optional<std::string> identity_owner(std::string_view kind, const std::string& external_id);

 private:
  Session& session_;
  std::unordered_map<std::string, std::optional<StoredHousehold>> households_;
  std::unordered_map<std::string, std::optional<StoredPerson>> persons_;
  std::unordered_map<std::string, std::optional<std::int64_t>> units_;
  std::unordered_map<std::string, std::optional<std::string>> identity_owners_;
};

// A household as the file describes it: the first non-empty value of each
// household-level cell among its rows wins, and a different one is a problem.
struct HouseholdPlan {
  std::string code;
  std::string head;
  std::string group_path;
  std::string central;
  int head_line = 0, group_line = 0, central_line = 0;
  std::vector<std::size_t> rows;
  std::int64_t id = 0;       // set by apply
  std::int64_t unit_id = 0;  // set by apply
};

class PeopleImport {
 public:
  PeopleImport(Header header, std::vector<PersonRow> rows, const ImportOptions& options, ProblemSink& problems)
      : header_(std::move(header)), rows_(std::move(rows)), options_(options), problems_(problems) {}

  void check_duplicates();
  void check_against(Lookup& db);
  void count(Lookup& db, ImportReport& report);
  // Returns the number of rows changed: 0 when the database already matched.
  std::int64_t apply(Session& session, Lookup& db);
  // After apply: each changed record's audit entry (when an actor is given)
  // and change line, in the order first touched.
  void record_changes(Session& session, ImportReport& report);
  [[nodiscard]] bool anything_to_apply() const { return !households_.empty(); }

 private:
  // With skip_bad, a bad row is simply gone; without it nothing is applied
  // anyway, and keeping bad rows' households avoids follow-on problems.
  [[nodiscard]] bool included(const PersonRow& row) const {
    return options_.skip_bad ? !row.bad : !row.household.empty();
  }
  void fail(PersonRow& row, Column column, std::string reason) {
    problems_.add(row.line, header_.label_of(column), std::move(reason));
    row.bad = true;
  }
  void merge(PersonRow& row, Column column, std::string& kept, int& kept_line, const std::string& value);
  void aggregate();

  // people_apply.cpp
  std::int64_t ensure_unit(Session& session, Lookup& db, const std::string& path);
  void apply_households(Session& session, Lookup& db);
  std::int64_t apply_person(Session& session, Lookup& db, const PersonRow& row, const HouseholdPlan& hh);
  void apply_roles(Session& session, std::int64_t id, bool is_new, const PersonRow& row);
  void apply_identities(Session& session, Lookup& db, std::int64_t id, bool is_new, const PersonRow& row);
  void apply_central(Session& session, Lookup& db);
  void apply_responsible(Session& session, Lookup& db, const std::vector<std::int64_t>& person_ids);
  void change(std::int64_t rows) { changed_ += rows; }
  enum class Entity { org_unit, household, person };
  // Called before a record is first changed (created: right after its insert):
  // remembers the record as it was, for the audit log.
  void touch(Session& session, Entity entity, std::int64_t id, bool created);
  struct Touched {
    Entity entity;
    std::int64_t id;
    nlohmann::json before;  // null when created
  };
  std::vector<Touched> touched_;
  std::array<std::unordered_set<std::int64_t>, 3> touched_ids_;

  Header header_;
  std::vector<PersonRow> rows_;
  const ImportOptions& options_;
  ProblemSink& problems_;
  std::vector<HouseholdPlan> households_;  // in file order
  std::unordered_map<std::string, std::size_t> household_index_;
  std::int64_t changed_ = 0;
};

}  // namespace villagebot::directory
