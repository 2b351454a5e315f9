#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "villagebot/i18n.hpp"

namespace villagebot {

// The roles of PRODUCT.md §3.
namespace role {
inline constexpr std::string_view kVillager = "villager";
inline constexpr std::string_view kCentralHouseholdHead = "central_household_head";
inline constexpr std::string_view kPartyMember = "party_member";
inline constexpr std::string_view kGroupLeader = "group_leader";
inline constexpr std::string_view kCadre = "cadre";
inline constexpr std::string_view kEvaluator = "evaluator";
inline constexpr std::string_view kSupervisor = "supervisor";
inline constexpr std::string_view kCommander = "commander";
inline constexpr std::string_view kEmergencyTeam = "emergency_team";
inline constexpr std::string_view kVolunteer = "volunteer";
inline constexpr std::string_view kAdmin = "admin";
}  // namespace role

struct Person {
  std::int64_t id = 0;
  std::string name;
  std::string phone;  // E.164
  std::int64_t household_id = 0;
  std::string household_code;
  std::int64_t org_unit_id = 0;
  std::vector<std::string> roles;
  Lang lang = Lang::zh;
  bool opted_out = false;

  [[nodiscard]] bool has_role(std::string_view r) const {
    for (const auto& mine : roles)
      if (mine == r) return true;
    return false;
  }
};

struct OrgUnit {
  std::int64_t id = 0;
  std::int64_t parent_id = 0;  // 0 for the root
  std::string name;
  std::string path;  // 一组/东院
  std::int64_t responsible_person_id = 0;
};

// Read access to the directory for plugins and the pipeline.
class Directory {
 public:
  virtual ~Directory() = default;
  [[nodiscard]] virtual std::optional<Person> person(std::int64_t id) = 0;
  [[nodiscard]] virtual std::optional<Person> find_by_phone(std::string_view phone) = 0;
  // kind: wecom, dingtalk, feishu, telegram, slack (or phone, same as find_by_phone)
  [[nodiscard]] virtual std::optional<Person> find_by_identity(std::string_view kind, std::string_view external_id) = 0;
  [[nodiscard]] virtual std::optional<std::string> identity_of(std::int64_t person_id, std::string_view kind) = 0;
  [[nodiscard]] virtual std::vector<Person> with_role(std::string_view role) = 0;
  [[nodiscard]] virtual std::vector<Person> household_members(std::int64_t household_id) = 0;
  [[nodiscard]] virtual std::optional<OrgUnit> org_unit(std::int64_t id) = 0;
  // Persist the person's opt-out of non-essential SMS (退订 / 订阅).
  virtual void set_opted_out(std::int64_t person_id, bool opted_out) = 0;
};

}  // namespace villagebot
