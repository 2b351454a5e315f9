#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

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
  std::string channel_preference;  // "" (any), sms, wecom, dingtalk, feishu, telegram, slack

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

struct Household {
  std::int64_t id = 0;
  std::string code;  // 户号
  std::string head_name;
  std::int64_t org_unit_id = 0;
  std::int64_t central_household_id = 0;  // 0: not linked (一户十联)
};

// Who something is for. Everything listed is united; then only persons with
// one of `only_roles` are kept (when given); then the exclusions are taken out.
//   一组's party members, not the cadres: {.org_units={一组}, .only_roles={"party_member"}, .exclude_roles={"cadre"}}
struct Audience {
  bool everyone = false;
  std::vector<std::int64_t> org_units{};           // each unit with its whole subtree
  std::vector<std::string> roles{};                // everyone holding one of these
  std::vector<std::int64_t> households{};          // every member
  std::vector<std::int64_t> central_households{};  // the central household and the households linked to it
  std::vector<std::int64_t> persons{};
  std::vector<std::string> only_roles{};
  std::vector<std::int64_t> within_org_units{};   // when given: only persons in these subtrees (a cadre's scope)
  std::vector<std::int64_t> exclude_org_units{};  // subtrees
  std::vector<std::string> exclude_roles{};
  std::vector<std::int64_t> exclude_households{};
  std::vector<std::int64_t> exclude_persons{};

  [[nodiscard]] bool empty() const {
    return !everyone && org_units.empty() && roles.empty() && households.empty() && central_households.empty() &&
           persons.empty();
  }
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
  [[nodiscard]] virtual std::optional<OrgUnit> org_unit_by_path(std::string_view path) = 0;  // "" is the root
  // The units this person answers for (四包一联); a cadre's scope.
  [[nodiscard]] virtual std::vector<OrgUnit> units_responsible_for(std::int64_t person_id) = 0;
  [[nodiscard]] virtual std::optional<Household> household(std::int64_t id) = 0;
  [[nodiscard]] virtual std::optional<Household> household_by_code(std::string_view code) = 0;
  // The ids of the persons in an audience, ascending, each once. 100,000 in well under a second.
  [[nodiscard]] virtual std::vector<std::int64_t> resolve(const Audience& audience) = 0;
  // The persons with these ids (unknown ids are skipped), in the order given.
  [[nodiscard]] virtual std::vector<Person> persons(const std::vector<std::int64_t>& ids) = 0;
  // Persist the person's opt-out of non-essential SMS (退订 / 订阅).
  virtual void set_opted_out(std::int64_t person_id, bool opted_out) = 0;
};

// An audience as JSON (stored by plugins, sent by the API):
// {"everyone":false,"org_units":[1],"roles":["cadre"],"households":[],"central_households":[],
//  "persons":[],"only_roles":[],"within_org_units":[],"exclude":{"org_units":[],"roles":[],"households":[],"persons":[]}}
// from_json throws std::invalid_argument naming the bad field.
nlohmann::json audience_to_json(const Audience& audience);
Audience audience_from_json(const nlohmann::json& json);

}  // namespace villagebot
