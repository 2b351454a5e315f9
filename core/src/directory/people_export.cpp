#include "directory/people_export.hpp"

#include <map>
#include <vector>

#include "directory/people_rows.hpp"

namespace villagebot::directory {

bool looks_like_formula(std::string_view value) {
  // = + - @ first, or after apostrophes (so that a value which itself starts
  // with an apostrophe survives the import's removal of one).
  const std::size_t at = value.find_first_not_of('\'');
  if (at == std::string_view::npos) return false;
  const char c = value[at];
  return c == '=' || c == '+' || c == '-' || c == '@';
}

std::string csv_cell(std::string_view value) {
  std::string v;
  if (looks_like_formula(value)) v = "'";
  v += value;
  if (v.find_first_of(",\"\r\n") == std::string::npos && (v.empty() || (v.front() != ' ' && v.back() != ' '))) return v;
  std::string quoted = "\"";
  for (char c : v) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

namespace {

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "、") + p;
  return out;
}

}  // namespace

std::string export_people(Storage& storage, const ExportOptions& options) {
  return storage.read([&](Session& s) {
    std::string out = "\xEF\xBB\xBF";
    for (std::size_t c = 0; c < kColumnCount; ++c) {
      if (c) out += ',';
      out += csv_cell(column_header(static_cast<Column>(c), options.english_headers));
    }
    out += "\r\n";
    std::map<std::int64_t, std::vector<std::string>> roles;
    for (const Row& r : s.query("SELECT person_id, role FROM core_person_roles ORDER BY person_id, role")) {
      const auto chinese = role_chinese(r.text(1));
      roles[r.integer(0)].push_back(options.english_headers || chinese.empty() ? r.text(1) : std::string(chinese));
    }
    std::map<std::int64_t, std::map<std::string, std::string>> identities;
    for (const Row& r : s.query("SELECT person_id, kind, external_id FROM core_identities ORDER BY external_id"))
      identities[r.integer(0)].emplace(r.text(1), r.text(2));  // one per kind, as the import keeps them
    std::map<std::int64_t, std::vector<std::string>> responsible;
    for (const Row& r : s.query("SELECT responsible_person_id, path FROM core_org_units "
                                "WHERE responsible_person_id IS NOT NULL ORDER BY path"))
      responsible[r.integer(0)].push_back(r.text(1).empty() ? "全村" : r.text(1));

    for (const Row& r :
         s.query("SELECT p.id, COALESCE(h.code, ''), COALESCE(h.head_name, ''), p.name, COALESCE(p.phone, ''), "
                 "COALESCE(hu.path, pu.path, ''), p.lang, COALESCE(c.code, ''), COALESCE(p.org_unit_id, 0) "
                 "FROM core_persons p LEFT JOIN core_households h ON h.id = p.household_id "
                 "LEFT JOIN core_org_units hu ON hu.id = h.org_unit_id "
                 "LEFT JOIN core_org_units pu ON pu.id = p.org_unit_id "
                 "LEFT JOIN core_households c ON c.id = h.central_household_id ORDER BY h.code, p.id")) {
      const std::int64_t id = r.integer(0);
      if (options.units && !options.units->contains(r.integer(8))) continue;
      // Chinese mobiles as Excel users type them (13800000001): no guard apostrophe for the "+".
      std::string phone = r.text(4);
      if (phone.size() == 14 && phone.starts_with("+861")) phone = phone.substr(3);
      std::vector<std::string> cells{r.text(1), r.text(2), r.text(3), phone, r.text(5), joined(roles[id])};
      const auto& ids = identities[id];
      for (std::string_view kind : kIdentityKinds) {
        auto it = ids.find(std::string(kind));
        cells.push_back(it == ids.end() ? std::string() : it->second);
      }
      cells.push_back(r.text(6));
      cells.push_back(r.text(7));
      cells.push_back(joined(responsible[id]));
      for (std::size_t c = 0; c < cells.size(); ++c) {
        if (c) out += ',';
        out += csv_cell(cells[c]);
      }
      out += "\r\n";
    }
    return out;
  });
}

}  // namespace villagebot::directory
