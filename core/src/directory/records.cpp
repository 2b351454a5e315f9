#include "directory/records.hpp"

#include "villagebot/text.hpp"

namespace villagebot::directory {

namespace {
nlohmann::json id_or_null(const Row& r, std::size_t column) {
  if (r.is_null(column)) return nullptr;
  return r.integer(column);
}
}  // namespace

nlohmann::json person_record(Session& s, std::int64_t id) {
  auto rows = s.query(
      "SELECT p.id, p.name, COALESCE(p.phone, ''), p.household_id, COALESCE(h.code, ''), p.org_unit_id, "
      "COALESCE(u.path, ''), p.lang, p.opted_out, p.channel_preference, p.created_at, p.updated_at "
      "FROM core_persons p LEFT JOIN core_households h ON h.id = p.household_id "
      "LEFT JOIN core_org_units u ON u.id = p.org_unit_id WHERE p.id = ?",
      {id});
  if (rows.empty()) return nullptr;
  const Row& r = rows[0];
  nlohmann::json roles = nlohmann::json::array();
  for (const Row& role : s.query("SELECT role FROM core_person_roles WHERE person_id = ? ORDER BY role", {id}))
    roles.push_back(role.text(0));
  nlohmann::json identities = nlohmann::json::object();
  for (const Row& i : s.query("SELECT kind, external_id FROM core_identities WHERE person_id = ? ORDER BY kind", {id}))
    identities[i.text(0)] = i.text(1);
  return {{"id", r.integer(0)},
          {"name", r.text(1)},
          {"phone", r.text(2)},
          {"household_id", id_or_null(r, 3)},
          {"household_code", r.text(4)},
          {"org_unit_id", id_or_null(r, 5)},
          {"org_unit_path", r.text(6)},
          {"roles", std::move(roles)},
          {"identities", std::move(identities)},
          {"lang", r.text(7)},
          {"opted_out", r.integer(8) != 0},
          {"channel_preference", r.text(9)},
          {"created_at", r.integer(10)},
          {"updated_at", r.integer(11)}};
}

nlohmann::json household_record(Session& s, std::int64_t id) {
  auto rows = s.query(
      "SELECT h.id, h.code, h.head_name, h.org_unit_id, COALESCE(u.path, ''), h.central_household_id, "
      "COALESCE(c.code, ''), (SELECT COUNT(*) FROM core_persons p WHERE p.household_id = h.id) "
      "FROM core_households h LEFT JOIN core_org_units u ON u.id = h.org_unit_id "
      "LEFT JOIN core_households c ON c.id = h.central_household_id WHERE h.id = ?",
      {id});
  if (rows.empty()) return nullptr;
  const Row& r = rows[0];
  return {{"id", r.integer(0)},
          {"code", r.text(1)},
          {"head_name", r.text(2)},
          {"org_unit_id", id_or_null(r, 3)},
          {"org_unit_path", r.text(4)},
          {"central_household_id", id_or_null(r, 5)},
          {"central_household_code", r.text(6)},
          {"members", r.integer(7)}};
}

nlohmann::json org_unit_record(Session& s, std::int64_t id) {
  auto rows = s.query("SELECT id, parent_id, name, path, responsible_person_id FROM core_org_units WHERE id = ?", {id});
  if (rows.empty()) return nullptr;
  const Row& r = rows[0];
  return {{"id", r.integer(0)},
          {"parent_id", id_or_null(r, 1)},
          {"name", r.text(2)},
          {"path", r.text(3)},
          {"responsible_person_id", id_or_null(r, 4)}};
}

void mask_phones(nlohmann::json& value) {
  if (value.is_object()) {
    for (auto& [key, item] : value.items()) {
      if (key == "phone" && item.is_string())
        item = text::mask_phone(item.get<std::string>());
      else
        mask_phones(item);
    }
  } else if (value.is_array()) {
    for (auto& item : value) mask_phones(item);
  }
}

}  // namespace villagebot::directory
