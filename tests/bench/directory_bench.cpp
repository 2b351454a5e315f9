// Directory figures (issue 3): import a 100,000-person register from CSV, then resolve
// audiences of up to 100,000 persons. Prints figures, decides nothing.
//
//   vb_directory_bench [--rows N] [--dir PATH] [--keep] [--no-audit]
//
// --no-audit imports without an actor (no audit log entries), to see what the log costs.
//
// The register is generated (seeded, the same every run): about N/3 households of 3 persons,
// 10 村民小组 each with 2-4 院落 (a tenth of a group's households sit directly in the group),
// one central household per 10 households of a unit (一户十联), a group leader per group, a
// responsible person per 院落, a few cadres, party members, volunteers, emergency team, WeCom
// ids for 60%, DingTalk for 10%. The storage is the production one: WAL, synchronous=FULL.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "directory/people_export.hpp"
#include "directory/people_import.hpp"
#include "directory/sqlite_directory.hpp"
#include "storage/core_schema.hpp"
#include "storage/sqlite_storage.hpp"
#include "villagebot/directory.hpp"

namespace {

using namespace villagebot;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

constexpr int kGroups = 10;
const char* const kGroupNames[kGroups] = {"一组", "二组", "三组", "四组", "五组",
                                          "六组", "七组", "八组", "九组", "十组"};
const char* const kYardNames[4] = {"东院", "西院", "南院", "北院"};
const char* const kSurnames[20] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周",
                                   "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "罗"};
const char* const kGiven[24] = {"建国", "秀英", "伟", "芳", "敏", "静", "丽",   "强", "磊", "军", "洋",   "勇",
                                "艳",   "杰",   "娟", "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "思远"};

int yards_of(int group) {
  return 2 + group % 3;
}  // 2, 3 or 4 院落

struct Placement {
  int group = 0;
  int yard = 0;  // 0 .. yards_of(group): == yards_of(group) means directly in the group
  int index_in_unit = 0;
};

// Household h: group h % 10; inside the group, round robin over its 院落 and the group itself.
Placement place(int h) {
  Placement p;
  p.group = h % kGroups;
  const int q = h / kGroups;
  const int slots = yards_of(p.group) + 1;
  p.yard = q % slots;
  p.index_in_unit = q / slots;
  return p;
}
int household_at(int group, int yard, int index_in_unit) {
  return (index_in_unit * (yards_of(group) + 1) + yard) * kGroups + group;
}

std::string code_of(int h) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "H%06d", h);
  return buf;
}

std::string path_of(const Placement& p) {
  std::string path = kGroupNames[p.group];
  if (p.yard < yards_of(p.group)) path += std::string("/") + kYardNames[p.yard];
  return path;
}

std::string name_of(int h, int member) {
  return std::string(kSurnames[(h * 7 + (member == 1 ? 3 : 0)) % 20]) + kGiven[(h * 5 + member * 11) % 24];
}

struct Generated {
  std::string csv;
  int households = 0;
  int central_households = 0;
};

Generated generate(int rows) {
  Generated g;
  g.households = (rows + 2) / 3;
  std::string& csv = g.csv;
  csv.reserve(static_cast<std::size_t>(rows) * 90);
  csv += "户号,户主,姓名,手机,村民小组,角色,企业微信,钉钉,飞书,telegram,语言,中心户,负责\r\n";
  std::set<std::string> answered;  // each unit has one responsible person
  for (int h = 0, i = 0; h < g.households && i < rows; ++h) {
    const Placement p = place(h);
    const std::string path = path_of(p);
    const bool central = p.index_in_unit % 10 == 0;
    if (central) ++g.central_households;
    const std::string central_code =
        central ? std::string() : code_of(household_at(p.group, p.yard, p.index_in_unit / 10 * 10));
    const std::string head = name_of(h, 0);
    for (int member = 0; member < 3 && i < rows; ++member, ++i) {
      std::string roles;
      auto add_role = [&roles](const char* r) {
        if (!roles.empty()) roles += "、";
        roles += r;
      };
      std::string responsible;
      if (member == 0 && central) add_role("中心户长");
      if (i % 20 == 1) add_role("党员");
      if (i % 25 == 2) add_role("志愿者");
      if (i % 100 == 5) add_role("应急队员");
      if (i % 997 == 11) add_role("评议员");
      if (i % 4999 == 13) add_role("监督员");
      if (member == 0 && p.index_in_unit == 0 && p.yard == 0 && answered.insert(kGroupNames[p.group]).second) {
        add_role("组长");
        responsible = kGroupNames[p.group];
      } else if (member == 1 && central && p.yard < yards_of(p.group) && answered.insert(path).second) {
        responsible = path;  // the 院落's own contact
      }
      if (i == 7) {
        add_role("村干部");
        responsible = responsible.empty() ? "全村" : responsible + "、全村";
      }
      if (i % 9973 == 17) add_role("村干部");
      if (i == 19) add_role("指挥长");
      if (i == 23) add_role("管理员");
      if (roles.empty()) roles = "村民";
      csv += code_of(h);
      csv += ',';
      csv += head;
      csv += ',';
      csv += member == 0 ? head : name_of(h, member);
      csv += ',';
      csv += std::to_string(13100000000LL + i);
      csv += ',';
      csv += path;
      csv += ',';
      csv += roles;
      csv += ',';
      if (i % 10 < 6) csv += "wx" + std::to_string(i);
      csv += ',';
      if (i % 10 == 7) csv += "ding" + std::to_string(i);
      csv += ",,,";
      if (i % 50 == 3) csv += "en";
      csv += ',';
      csv += central_code;
      csv += ',';
      csv += responsible;
      csv += "\r\n";
    }
  }
  return g;
}

// `label` padded to `width` terminal columns (a CJK character takes two).
std::string padded(const std::string& label, std::size_t width) {
  std::size_t columns = 0;
  for (std::size_t i = 0; i < label.size();) {
    const auto b = static_cast<unsigned char>(label[i]);
    const std::size_t len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    columns += len == 3 ? 2 : 1;
    i += len;
  }
  return label + std::string(columns < width ? width - columns : 0, ' ');
}

void print_report(const char* what, const directory::ImportReport& r, double ms) {
  std::printf("%s %10.1f ms  %9.0f rows/s   persons +%d ~%d, households +%d ~%d, units +%d, changes %zu, %s\n",
              padded(what, 32).c_str(), ms, r.rows / (ms / 1000.0), r.persons_created, r.persons_updated,
              r.households_created, r.households_updated, r.org_units_created, r.changes,
              r.applied ? "applied" : "not applied");
  for (std::size_t i = 0; i < r.problems.size() && i < 5; ++i)
    std::printf("    problem: line %d [%s] %s\n", r.problems[i].line, r.problems[i].column.c_str(),
                r.problems[i].reason.c_str());
}

// Runs `f` `reps` times; prints the first and the best time and the size of the result.
void time_resolve(const std::string& what, int reps, const std::function<std::size_t()>& f) {
  double first = 0;
  double best = 1e300;
  std::size_t n = 0;
  for (int rep = 0; rep < reps; ++rep) {
    const auto start = Clock::now();
    n = f();
    const double ms = ms_since(start);
    if (rep == 0) first = ms;
    best = std::min(best, ms);
  }
  std::printf("%s %8zu persons  first %8.1f ms  best %8.1f ms  %10.0f persons/s\n", padded(what, 48).c_str(), n, first,
              best, best > 0 ? static_cast<double>(n) / (best / 1000.0) : 0.0);
}

std::uintmax_t size_of_db(const std::string& path) {
  std::uintmax_t total = 0;
  for (const char* suffix : {"", "-wal"}) {
    std::error_code ec;
    const auto s = fs::file_size(path + suffix, ec);
    if (!ec) total += s;
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  int rows = 100000;
  fs::path dir;
  bool keep = false;
  bool audit = true;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--rows" && i + 1 < argc) {
      rows = std::atoi(argv[++i]);
    } else if (arg == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (arg == "--keep") {
      keep = true;
    } else if (arg == "--no-audit") {
      audit = false;
    } else {
      std::cerr << "usage: vb_directory_bench [--rows N] [--dir PATH] [--keep] [--no-audit]\n";
      return 2;
    }
  }
  if (rows < 30) {
    std::cerr << "--rows must be at least 30\n";
    return 2;
  }
  if (dir.empty()) dir = fs::temp_directory_path() / ("vb-directory-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path csv_path = dir / "people.csv";
  const std::string db_path = (dir / "villagebot.db").string();
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db_path + suffix);

  std::printf("villagebot directory bench: %d rows, folder %s\n", rows, dir.string().c_str());
  std::printf("targets: import 100k <= 10 s; resolve 100k well under 1 s\n\n");

  auto start = Clock::now();
  const Generated gen = generate(rows);
  {
    std::ofstream out(csv_path, std::ios::binary);
    out.write(gen.csv.data(), static_cast<std::streamsize>(gen.csv.size()));
  }
  std::printf("generated %d persons, %d households (%d central), %.1f MB CSV in %.1f ms\n", rows, gen.households,
              gen.central_households, static_cast<double>(gen.csv.size()) / 1e6, ms_since(start));
  std::string bytes;
  {
    std::ifstream in(csv_path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    bytes = s.str();
  }

  auto storage = std::make_unique<storage::SqliteStorage>(db_path);  // synchronous=FULL, as in production
  storage->migrate("core", storage::core_migrations());

  directory::ImportOptions options;
  if (audit) options.actor = directory::audit::cli_actor();  // as `villagebot import people` does
  start = Clock::now();
  const auto first = directory::import_people(*storage, bytes, options);
  const double first_ms = ms_since(start);
  print_report("import (first, empty register)", first, first_ms);
  start = Clock::now();
  const auto again = directory::import_people(*storage, bytes, options);
  print_report("re-import (same file)", again, ms_since(start));
  directory::ImportOptions dry = options;
  dry.dry_run = true;
  start = Clock::now();
  const auto dry_report = directory::import_people(*storage, bytes, dry);
  print_report("dry run (same file)", dry_report, ms_since(start));
  const auto [audit_entries, audit_bytes] = storage->read([](Session& s) {
    const auto r = s.query(
        "SELECT COUNT(*), COALESCE(SUM(COALESCE(LENGTH(before), 0) + COALESCE(LENGTH(after), 0)), 0) FROM "
        "core_audit_log");
    return std::pair<std::int64_t, std::int64_t>{r[0].integer(0), r[0].integer(1)};
  });
  std::printf("database %.1f MB (with WAL); audit log: %lld entries, %.1f MB of before/after JSON\n",
              static_cast<double>(size_of_db(db_path)) / 1e6, static_cast<long long>(audit_entries),
              static_cast<double>(audit_bytes) / 1e6);
  start = Clock::now();
  const std::string exported = directory::export_people(*storage, directory::ExportOptions{});
  const double export_ms = ms_since(start);
  std::printf("%s %10.1f ms  %9.0f rows/s   %.1f MB CSV\n", padded("export (all persons)", 32).c_str(), export_ms,
              rows / (export_ms / 1000.0), static_cast<double>(exported.size()) / 1e6);
  start = Clock::now();
  const auto reexport = directory::import_people(*storage, exported, dry);
  print_report("dry run of the export", reexport, ms_since(start));
  std::printf("import %d rows: %.2f s (target for 100k: <= 10 s)%s\n\n", rows, first_ms / 1000.0,
              rows >= 100000 ? (first_ms <= 10000 ? "  -> met" : "  -> MISSED") : "");

  directory::SqliteDirectory directory(*storage);
  const auto root = directory.org_unit_by_path("");
  const auto group1 = directory.org_unit_by_path("一组");
  const auto yard = directory.org_unit_by_path("二组/东院");
  if (!root || !group1 || !yard) {
    std::fprintf(stderr, "the generated units are missing: root %d, 一组 %d, 二组/东院 %d\n", root.has_value(),
                 group1.has_value(), yard.has_value());
    return 1;
  }
  const auto [all_ids, centrals] = storage->read([](Session& s) {
    std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> out;
    for (const Row& r : s.query("SELECT id FROM core_persons ORDER BY id")) out.first.push_back(r.integer(0));
    for (const Row& r : s.query("SELECT DISTINCT central_household_id FROM core_households "
                                "WHERE central_household_id IS NOT NULL ORDER BY 1"))
      out.second.push_back(r.integer(0));
    return out;
  });
  const int reps = 5;

  Audience everyone;
  everyone.everyone = true;
  time_resolve("resolve: everyone", reps, [&] { return directory.resolve(everyone).size(); });

  Audience root_subtree;
  root_subtree.org_units = {root->id};
  time_resolve("resolve: the root unit's subtree", reps, [&] { return directory.resolve(root_subtree).size(); });

  Audience group;
  group.org_units = {group1->id};
  time_resolve("resolve: 一组's subtree", reps, [&] { return directory.resolve(group).size(); });

  Audience one_yard;
  one_yard.org_units = {yard->id};
  time_resolve("resolve: one 院落 (二组/东院)", reps, [&] { return directory.resolve(one_yard).size(); });

  Audience party;
  party.roles = {std::string(role::kPartyMember)};
  time_resolve("resolve: role party_member", reps, [&] { return directory.resolve(party).size(); });

  Audience party_in_group;
  party_in_group.org_units = {group1->id};
  party_in_group.only_roles = {std::string(role::kPartyMember), std::string(role::kVolunteer)};
  party_in_group.exclude_roles = {std::string(role::kCadre)};
  time_resolve("resolve: 一组, only party/volunteer, no cadre", reps,
               [&] { return directory.resolve(party_in_group).size(); });

  Audience central;
  central.central_households = centrals;
  central.exclude_org_units = {group1->id};
  central.exclude_roles = {std::string(role::kCadre), std::string(role::kGroupLeader)};
  for (std::size_t i = 0; i < all_ids.size(); i += 100) central.exclude_persons.push_back(all_ids[i]);
  time_resolve("resolve: " + std::to_string(centrals.size()) + " central households, exclusions", reps,
               [&] { return directory.resolve(central).size(); });

  Audience listed;
  listed.persons = all_ids;
  time_resolve("resolve: explicit list of " + std::to_string(all_ids.size()) + " persons", reps,
               [&] { return directory.resolve(listed).size(); });

  Audience mixed;
  mixed.everyone = true;
  mixed.exclude_persons.assign(all_ids.begin(), all_ids.begin() + static_cast<std::ptrdiff_t>(all_ids.size() / 2));
  time_resolve("resolve: everyone minus 50% listed persons", reps, [&] { return directory.resolve(mixed).size(); });

  std::vector<std::int64_t> some;
  for (std::size_t i = 0; i < all_ids.size() && some.size() < 10000;
       i += std::max<std::size_t>(1, all_ids.size() / 10000))
    some.push_back(all_ids[i]);
  time_resolve("persons(): " + std::to_string(some.size()) + " ids", reps,
               [&] { return directory.persons(some).size(); });
  time_resolve("persons(): all ids", 2, [&] { return directory.persons(all_ids).size(); });

  std::printf("\nresolve target: 100k persons well under 1 s (see 'everyone' and 'explicit list' above)\n");

  storage.reset();
  if (!keep) fs::remove_all(dir);
  return 0;
}
