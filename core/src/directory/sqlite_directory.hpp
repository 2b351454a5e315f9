#pragma once
#include "villagebot/directory.hpp"
#include "villagebot/storage.hpp"

namespace villagebot::directory {

class SqliteDirectory final : public Directory {
 public:
  explicit SqliteDirectory(Storage& storage) : storage_(storage) {}
  std::optional<Person> person(std::int64_t id) override;
  std::optional<Person> find_by_phone(std::string_view phone) override;
  std::optional<Person> find_by_identity(std::string_view kind, std::string_view external_id) override;
  std::optional<std::string> identity_of(std::int64_t person_id, std::string_view kind) override;
  std::vector<Person> with_role(std::string_view role) override;
  std::vector<Person> household_members(std::int64_t household_id) override;
  std::optional<OrgUnit> org_unit(std::int64_t id) override;
  void set_opted_out(std::int64_t person_id, bool opted_out) override;

 private:
  std::vector<Person> load(Session& s, std::string_view where, const std::vector<Value>& params);
  Storage& storage_;
};

}  // namespace villagebot::directory
