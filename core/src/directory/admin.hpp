#pragma once
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "directory/audit.hpp"
#include "villagebot/directory.hpp"
#include "villagebot/storage.hpp"

// Changing the directory through the admin API (docs/API.md): validation,
// a cadre's scope, and the audit entry written in the same transaction as
// the change. The HTTP side is runtime/admin_api.cpp.
namespace villagebot::directory {

// An error the API returns as {"error":{"code","message"}} with this status.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, const std::string& message)
      : std::runtime_error(message), status_(status), code_(std::move(code)) {}
  [[nodiscard]] int status() const { return status_; }
  [[nodiscard]] const std::string& code() const { return code_; }

 private:
  int status_;
  std::string code_;
};

// The org units a caller may see and change: the subtrees of the units its
// person answers for (四包一联), or the whole village.
struct Scope {
  bool whole_village = true;
  std::unordered_set<std::int64_t> units;
  std::vector<std::int64_t> roots;  // the units answered for
  [[nodiscard]] bool contains(std::int64_t unit_id) const { return whole_village || units.contains(unit_id); }
};

struct Caller {
  audit::Actor actor;
  Scope scope;
  bool may_grant_any_role = true;  // false for cadres: not admin, not supervisor
};

struct Paging {
  std::int64_t page = 1;
  std::int64_t per_page = 50;
};

struct PersonFilter {
  std::string q;  // name contains, or phone digits
  std::string role;
  std::int64_t org_unit_id = 0;  // its subtree
  std::int64_t household_id = 0;
};

class DirectoryAdmin {
 public:
  // on_change runs after every committed change (forget cached lookups).
  DirectoryAdmin(Storage& storage, Directory& directory, std::function<void()> on_change)
      : storage_(storage), directory_(directory), on_change_(std::move(on_change)) {}

  // After a change made elsewhere in this process (an import through the API).
  void notify_changed() {
    if (on_change_) on_change_();
  }

  // A token acting for person_id (0: none): whole village unless the person
  // answers for units.
  Scope scope_of(std::int64_t person_id);

  nlohmann::json list_org_units(const Caller& caller, const std::string& q, Paging paging);
  nlohmann::json get_org_unit(const Caller& caller, std::int64_t id);
  nlohmann::json create_org_unit(const Caller& caller, const nlohmann::json& body);
  nlohmann::json update_org_unit(const Caller& caller, std::int64_t id, const nlohmann::json& body);
  void delete_org_unit(const Caller& caller, std::int64_t id);

  nlohmann::json list_households(const Caller& caller, const std::string& q, std::int64_t org_unit_id, Paging paging);
  nlohmann::json get_household(const Caller& caller, std::int64_t id);
  nlohmann::json create_household(const Caller& caller, const nlohmann::json& body);
  nlohmann::json update_household(const Caller& caller, std::int64_t id, const nlohmann::json& body);
  void delete_household(const Caller& caller, std::int64_t id);

  nlohmann::json list_persons(const Caller& caller, const PersonFilter& filter, Paging paging);
  nlohmann::json get_person(const Caller& caller, std::int64_t id);
  nlohmann::json create_person(const Caller& caller, const nlohmann::json& body);
  nlohmann::json update_person(const Caller& caller, std::int64_t id, const nlohmann::json& body);
  void delete_person(const Caller& caller, std::int64_t id);

  nlohmann::json roles(const Caller& caller);
  nlohmann::json add_role(const Caller& caller, std::int64_t person_id, const nlohmann::json& body);
  nlohmann::json remove_role(const Caller& caller, std::int64_t person_id, const std::string& role);
  nlohmann::json identities(const Caller& caller, std::int64_t person_id);
  nlohmann::json set_identity(const Caller& caller, std::int64_t person_id, const std::string& kind,
                              const nlohmann::json& body);
  nlohmann::json remove_identity(const Caller& caller, std::int64_t person_id, const std::string& kind);

  // {"count":N,"person_ids":[...]}, cut to the caller's scope.
  nlohmann::json audience(const Caller& caller, const nlohmann::json& body);
  // Cuts an audience to the caller's scope (within_org_units).
  void restrict_to_scope(const Caller& caller, Audience& audience);

 private:
  template <typename Fn>
  auto change(Fn&& fn);
  Storage& storage_;
  Directory& directory_;
  std::function<void()> on_change_;
};

}  // namespace villagebot::directory
