#include <nlohmann/json.hpp>
#include <stdexcept>

#include "villagebot/directory.hpp"

namespace villagebot {

namespace {

template <typename T>
void read_list(const nlohmann::json& object, const char* key, const std::string& where, std::vector<T>& out) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return;
  if (!it->is_array()) throw std::invalid_argument(where + key + " must be a list");
  for (const auto& item : *it) {
    if constexpr (std::is_same_v<T, std::string>) {
      if (!item.is_string()) throw std::invalid_argument(where + key + " must be a list of strings");
      out.push_back(item.get<std::string>());
    } else {
      if (!item.is_number_integer() || item.get<std::int64_t>() <= 0)
        throw std::invalid_argument(where + key + " must be a list of positive ids");
      out.push_back(item.get<std::int64_t>());
    }
  }
}

void refuse_unknown_keys(const nlohmann::json& object, std::initializer_list<const char*> known,
                         const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    if (!ok) throw std::invalid_argument("unknown audience field '" + where + key + "'");
  }
}

}  // namespace

nlohmann::json audience_to_json(const Audience& a) {
  return {{"everyone", a.everyone},
          {"org_units", a.org_units},
          {"roles", a.roles},
          {"households", a.households},
          {"central_households", a.central_households},
          {"persons", a.persons},
          {"only_roles", a.only_roles},
          {"within_org_units", a.within_org_units},
          {"exclude",
           {{"org_units", a.exclude_org_units},
            {"roles", a.exclude_roles},
            {"households", a.exclude_households},
            {"persons", a.exclude_persons}}}};
}

Audience audience_from_json(const nlohmann::json& json) {
  if (!json.is_object()) throw std::invalid_argument("the audience must be a JSON object");
  refuse_unknown_keys(json,
                      {"everyone", "org_units", "roles", "households", "central_households", "persons", "only_roles",
                       "within_org_units", "exclude"},
                      "");
  Audience a;
  if (auto it = json.find("everyone"); it != json.end() && !it->is_null()) {
    if (!it->is_boolean()) throw std::invalid_argument("everyone must be true or false");
    a.everyone = it->get<bool>();
  }
  read_list(json, "org_units", "", a.org_units);
  read_list(json, "roles", "", a.roles);
  read_list(json, "households", "", a.households);
  read_list(json, "central_households", "", a.central_households);
  read_list(json, "persons", "", a.persons);
  read_list(json, "only_roles", "", a.only_roles);
  read_list(json, "within_org_units", "", a.within_org_units);
  if (auto it = json.find("exclude"); it != json.end() && !it->is_null()) {
    if (!it->is_object()) throw std::invalid_argument("exclude must be an object");
    refuse_unknown_keys(*it, {"org_units", "roles", "households", "persons"}, "exclude.");
    read_list(*it, "org_units", "exclude.", a.exclude_org_units);
    read_list(*it, "roles", "exclude.", a.exclude_roles);
    read_list(*it, "households", "exclude.", a.exclude_households);
    read_list(*it, "persons", "exclude.", a.exclude_persons);
  }
  return a;
}

}  // namespace villagebot
