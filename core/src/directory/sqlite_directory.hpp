#pragma once
#include <chrono>
#include <mutex>
#include <unordered_map>

#include "villagebot/directory.hpp"
#include "villagebot/storage.hpp"

namespace villagebot::directory {

// Sender lookups (every inbound message) and households by id (a household's
// name in most answers about points) are cached for a short time: a change
// made elsewhere (an import by the CLI) is seen within kCacheTtl; changes made
// through this object are seen at once.
class SqliteDirectory final : public Directory {
 public:
  static constexpr std::chrono::milliseconds kCacheTtl{2000};
  explicit SqliteDirectory(Storage& storage) : storage_(storage) {}
  // Forget cached lookups (after the directory was changed in this process).
  void invalidate();
  std::optional<Person> person(std::int64_t id) override;
  std::optional<Person> find_by_phone(std::string_view phone) override;
  std::optional<Person> find_by_identity(std::string_view kind, std::string_view external_id) override;
  std::optional<std::string> identity_of(std::int64_t person_id, std::string_view kind) override;
  std::vector<Person> with_role(std::string_view role) override;
  std::vector<Person> household_members(std::int64_t household_id) override;
  std::optional<OrgUnit> org_unit(std::int64_t id) override;
  std::optional<OrgUnit> org_unit_by_path(std::string_view path) override;
  std::vector<OrgUnit> units_responsible_for(std::int64_t person_id) override;
  std::optional<Household> household(std::int64_t id) override;
  std::optional<Household> household_by_code(std::string_view code) override;
  std::vector<std::int64_t> resolve(const Audience& audience) override;
  std::vector<Person> persons(const std::vector<std::int64_t>& ids) override;
  void set_opted_out(std::int64_t person_id, bool opted_out) override;

 private:
  std::vector<Person> load(Session& s, std::string_view where, const std::vector<Value>& params);
  std::optional<Person> lookup_uncached(std::string_view kind, std::string_view address);
  struct Cached {
    std::optional<Person> person;
    std::chrono::steady_clock::time_point expires;
  };
  struct CachedHousehold {
    std::optional<Household> household;
    std::chrono::steady_clock::time_point expires;
  };
  Storage& storage_;
  std::mutex cache_mutex_;
  std::unordered_map<std::string, Cached> cache_;
  std::unordered_map<std::int64_t, CachedHousehold> households_;
};

}  // namespace villagebot::directory
