// The people register from the command line, as a village clerk uses it: the real `villagebot`
// binary, the committed fixtures (GBK as Excel writes it, UTF-8 with BOM, a bad line 37), the
// SQLite file it writes, and a running server for token revocation.
//   import people FILE --config F [--dry-run] [--skip-bad]
//   export people --config F [--out FILE] [--headers en]
//   token create | list | revoke
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http/http_client.hpp"
#include "process_support.hpp"
#include "storage/sqlite_storage.hpp"

namespace villagebot::testkit {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::string_literals;

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr std::string_view kChineseHeader =
    "户号,户主,姓名,手机,村民小组,角色,企业微信,钉钉,飞书,telegram,语言,中心户,负责";
constexpr std::string_view kEnglishHeader =
    "household,head,name,phone,group,roles,wecom_id,dingtalk_id,feishu_id,telegram_id,lang,central_household,"
    "responsible_for";
constexpr int kFixturePersons = 39;
constexpr int kFixtureHouseholds = 15;
constexpr int kFixtureUnits = 7;  // the root, 一组, 一组/东院, 一组/西院, 二组, 三组, 三组/南院

// ---- files -------------------------------------------------------------------

fs::path fixture(const std::string& name) {
  return fs::path(VILLAGEBOT_SOURCE_DIR) / "tests" / "integration" / "fixtures" / "people" / name;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void spit(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out) << "cannot write " << path;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string digits(std::string_view s) {
  std::string d;
  for (char c : s)
    if (c >= '0' && c <= '9') d += c;
  return d;
}

// Everything a command said, for messages.
std::string said(const RunResult& r) {
  return "exit " + std::to_string(r.exit_code) + " signal " + std::to_string(r.signal) + "\n--- stdout\n" +
         r.out.substr(0, 4000) + "\n--- stderr\n" + r.err.substr(0, 4000);
}

// No crash, no sanitizer report, whatever the input.
void expect_no_crash(const RunResult& r) {
  EXPECT_EQ(r.signal, 0) << said(r);
  EXPECT_NE(r.exit_code, -1) << said(r);
  EXPECT_THAT(r.err, Not(HasSubstr("Sanitizer"))) << said(r);
  EXPECT_THAT(r.err, Not(HasSubstr("runtime error:"))) << said(r);
  EXPECT_THAT(r.err, Not(HasSubstr("terminate called"))) << said(r);
}

// ---- the database --------------------------------------------------------------

storage::SqliteOptions reader_options() {
  return storage::SqliteOptions{.synchronous_full = false};
}

std::int64_t scalar(const fs::path& db, const std::string& sql, const std::vector<Value>& params = {}) {
  storage::SqliteStorage s(db.string(), reader_options());
  return s.read([&](Session& session) {
    auto rows = session.query(sql, params);
    return rows.empty() ? std::int64_t{-1} : rows[0].integer(0);
  });
}

std::string text(const fs::path& db, const std::string& sql, const std::vector<Value>& params = {}) {
  storage::SqliteStorage s(db.string(), reader_options());
  return s.read([&](Session& session) {
    auto rows = session.query(sql, params);
    return rows.empty() ? "<none>"s : rows[0].text(0);
  });
}

std::set<std::string> roles_of(const fs::path& db, const std::string& phone) {
  storage::SqliteStorage s(db.string(), reader_options());
  return s.read([&](Session& session) {
    std::set<std::string> roles;
    for (const Row& row : session.query("SELECT r.role FROM core_person_roles r JOIN core_persons p ON p.id = "
                                        "r.person_id WHERE p.phone = ?",
                                        {phone}))
      roles.insert(row.text(0));
    return roles;
  });
}

std::string render(const Value& v) {
  if (std::holds_alternative<std::nullptr_t>(v)) return "NULL";
  if (const auto* n = std::get_if<std::int64_t>(&v)) return std::to_string(*n);
  if (const auto* d = std::get_if<double>(&v)) return std::to_string(*d);
  return "'" + std::get<std::string>(v) + "'";
}

// Every row of every table (ids and timestamps included), sorted per table: two dumps are equal
// only when nothing at all was written. Without the audit log when asked.
std::vector<std::string> dump(const fs::path& db, bool with_audit = true) {
  storage::SqliteStorage s(db.string(), reader_options());
  return s.read([&](Session& session) {
    std::vector<std::string> out;
    for (const Row& t : session.query(
             "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")) {
      const std::string table = t.text(0);
      if (!with_audit && table == "core_audit_log") continue;
      std::vector<std::string> rows;
      for (const Row& r : session.query("SELECT * FROM \"" + table + "\"")) {
        std::string line = table + ":";
        for (std::size_t i = 0; i < r.size(); ++i) line += render(r.value(i)) + "|";
        rows.push_back(std::move(line));
      }
      std::sort(rows.begin(), rows.end());
      out.push_back(table + ": " + std::to_string(rows.size()) + " rows");
      out.insert(out.end(), rows.begin(), rows.end());
    }
    return out;
  });
}

// The register without ids or timestamps, so two databases can be compared.
std::vector<std::string> register_of(const fs::path& db) {
  storage::SqliteStorage s(db.string(), reader_options());
  return s.read([&](Session& session) {
    std::vector<std::string> out;
    for (const Row& r : session.query(
             "SELECT p.name, p.phone, h.code, u.path, p.lang, "
             " (SELECT group_concat(role, ',') FROM (SELECT role FROM core_person_roles WHERE person_id = p.id "
             "ORDER BY role)), "
             " (SELECT group_concat(kind || ':' || external_id, ',') FROM "
             "   (SELECT kind, external_id FROM core_identities WHERE person_id = p.id ORDER BY kind)) "
             "FROM core_persons p LEFT JOIN core_households h ON h.id = p.household_id "
             "LEFT JOIN core_org_units u ON u.id = p.org_unit_id ORDER BY p.phone"))
      out.push_back("person " + r.text(0) + "|" + r.text(1) + "|" + r.text(2) + "|" + r.text(3) + "|" + r.text(4) +
                    "|" + r.text(5) + "|" + r.text(6));
    for (const Row& r : session.query("SELECT h.code, h.head_name, u.path, c.code FROM core_households h "
                                      "LEFT JOIN core_org_units u ON u.id = h.org_unit_id "
                                      "LEFT JOIN core_households c ON c.id = h.central_household_id ORDER BY h.code"))
      out.push_back("household " + r.text(0) + "|" + r.text(1) + "|" + r.text(2) + "|" + r.text(3));
    for (const Row& r : session.query("SELECT u.path, u.name, p.path, r.phone FROM core_org_units u "
                                      "LEFT JOIN core_org_units p ON p.id = u.parent_id "
                                      "LEFT JOIN core_persons r ON r.id = u.responsible_person_id ORDER BY u.path"))
      out.push_back("unit " + r.text(0) + "|" + r.text(1) + "|" + r.text(2) + "|" + r.text(3));
    return out;
  });
}

std::int64_t audit_rows(const fs::path& db) {
  return scalar(db, "SELECT COUNT(*) FROM core_audit_log");
}

// Two dumps, with the rows that differ (not two screens of rows) when they do.
::testing::AssertionResult same_rows(const std::vector<std::string>& expected, const std::vector<std::string>& actual) {
  if (expected == actual) return ::testing::AssertionSuccess();
  std::vector<std::string> a = expected;
  std::vector<std::string> b = actual;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::vector<std::string> gone;
  std::vector<std::string> added;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(gone));
  std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(added));
  auto failure = ::testing::AssertionFailure()
                 << "the database changed: " << gone.size() << " rows gone or changed, " << added.size() << " new";
  for (std::size_t i = 0; i < gone.size() && i < 8; ++i) failure << "\n  - " << gone[i].substr(0, 400);
  for (std::size_t i = 0; i < added.size() && i < 8; ++i) failure << "\n  + " << added[i].substr(0, 400);
  return failure;
}

// ---- CSV, to read the export ---------------------------------------------------

std::vector<std::vector<std::string>> parse_csv(std::string_view s) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  bool any = false;
  auto end_row = [&] {
    if (any || !row.empty()) {
      row.push_back(field);
      rows.push_back(row);
    }
    row.clear();
    field.clear();
    any = false;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c != '"') {
        field += c;
      } else if (i + 1 < s.size() && s[i + 1] == '"') {
        field += '"';
        ++i;
      } else {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = any = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
      any = true;
    } else if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      end_row();
    } else {
      field += c;
      any = true;
    }
  }
  end_row();
  return rows;
}

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;

  [[nodiscard]] std::size_t column(std::string_view name) const {
    auto it = std::find(header.begin(), header.end(), name);
    EXPECT_NE(it, header.end()) << "no column " << name;
    return it == header.end() ? 0 : static_cast<std::size_t>(it - header.begin());
  }
  [[nodiscard]] std::string cell(const std::vector<std::string>& row, std::string_view name) const {
    const std::size_t i = column(name);
    return i < row.size() ? row[i] : "<absent>";
  }
  // The row whose phone cell has these digits (the export may write +86..., '+86... or 138...).
  [[nodiscard]] std::vector<std::string> by_phone(std::string_view phone_digits, std::string_view phone_column) const {
    for (const auto& row : rows) {
      const std::string d = digits(cell(row, phone_column));
      if (d.size() >= phone_digits.size() && d.substr(d.size() - phone_digits.size()) == phone_digits) return row;
    }
    ADD_FAILURE() << "no row with phone " << phone_digits;
    return {};
  }
};

Table read_export(const std::string& bytes) {
  Table t;
  EXPECT_TRUE(starts_with(bytes, kBom)) << "the export starts with the UTF-8 BOM";
  std::string_view body = bytes;
  if (starts_with(body, kBom)) body.remove_prefix(kBom.size());
  auto rows = parse_csv(body);
  if (rows.empty()) {
    ADD_FAILURE() << "empty export";
    return t;
  }
  t.header = rows.front();
  t.rows.assign(rows.begin() + 1, rows.end());
  return t;
}

// A roles cell as a set of Chinese role names, without 村民 (every person is one; the export may
// or may not say so).
std::set<std::string> role_set(const std::string& cell) {
  std::set<std::string> roles;
  std::size_t at = 0;
  while (at <= cell.size()) {
    std::size_t next = cell.find("、", at);
    const std::string item = cell.substr(at, next == std::string::npos ? std::string::npos : next - at);
    if (!item.empty() && item != "村民") roles.insert(item);
    if (next == std::string::npos) break;
    at = next + std::string_view("、").size();
  }
  return roles;
}

// ---- the village -----------------------------------------------------------------

// A config and no people yet: the first CLI command creates the database.
struct Village : ProcessVillage {
  Village() : ProcessVillage({}, "", "", false) {}
  explicit Village(bool small_village) : ProcessVillage({}, "", "", small_village) {}

  [[nodiscard]] RunResult cli(std::vector<std::string> args) const {
    args.insert(args.begin(), VILLAGEBOT_EXE);
    args.emplace_back("--config");
    args.push_back(config.string());
    auto r = run(args, {}, std::chrono::seconds(120));
    expect_no_crash(r);
    return r;
  }
  [[nodiscard]] RunResult import(const fs::path& csv, const std::vector<std::string>& flags = {}) const {
    std::vector<std::string> args{"import", "people", csv.string()};
    args.insert(args.end(), flags.begin(), flags.end());
    return cli(args);
  }
  [[nodiscard]] RunResult import_bytes(std::string_view bytes, const std::vector<std::string>& flags = {}) {
    const fs::path file = dir / ("upload-" + std::to_string(++uploads) + ".csv");
    spit(file, bytes);
    return import(file, flags);
  }
  [[nodiscard]] RunResult export_people(const std::vector<std::string>& flags = {}) const {
    std::vector<std::string> args{"export", "people"};
    args.insert(args.end(), flags.begin(), flags.end());
    return cli(args);
  }
  [[nodiscard]] std::string exported(const std::vector<std::string>& flags = {}) const {
    auto r = export_people(flags);
    EXPECT_EQ(r.exit_code, 0) << said(r);
    return r.out;
  }
  int uploads = 0;
};

std::vector<std::string> change_lines(const RunResult& r, std::string_view prefix) {
  std::vector<std::string> out;
  for (const auto& line : lines_of(r.out))
    if (starts_with(line, prefix)) out.push_back(line);
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

ClientResponse http_call(int port, const std::string& method, const std::string& path, const std::string& token,
                         const std::string& body = {}) {
  http::BeastHttpClient client;
  ClientRequest req;
  req.method = method;
  req.url = "http://127.0.0.1:" + std::to_string(port) + path;
  if (!token.empty()) req.headers.emplace_back("Authorization", "Bearer " + token);
  if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
  req.body = body;
  req.timeout = std::chrono::seconds(20);
  return client.request(req);
}

// ---- the fixtures themselves ---------------------------------------------------------

TEST(DirectoryCliFixtures, AreWhatTheReadmeSays) {
  const std::string gbk = slurp(fixture("people_gbk.csv"));
  const std::string bom = slurp(fixture("people_bom.csv"));
  const std::string bad = slurp(fixture("people_line37_bad_phone.csv"));
  const std::string source = slurp(fixture("people_source.csv"));
  for (const std::string* f : {&gbk, &bom, &bad}) {
    EXPECT_EQ(std::count(f->begin(), f->end(), '\n'), 40);
    EXPECT_EQ(std::count(f->begin(), f->end(), '\r'), 40) << "CRLF line endings, as Excel writes them";
  }
  EXPECT_TRUE(starts_with(gbk, "\xBB\xA7\xBA\xC5,")) << "户号 in GBK";
  EXPECT_TRUE(starts_with(bad, "\xBB\xA7\xBA\xC5,")) << "户号 in GBK";
  EXPECT_TRUE(starts_with(bom, std::string(kBom) + std::string(kChineseHeader) + "\r\n"));
  EXPECT_TRUE(starts_with(source, std::string(kChineseHeader) + "\n"));
  EXPECT_NE(lines_of(bad).at(36).find(",1390000136,"), std::string::npos) << "line 37 has the bad phone";
}

// ---- import ------------------------------------------------------------------------

TEST(DirectoryCli, GbkFileAsExcelWritesItImports) {
  Village v;
  const auto r = v.import(fixture("people_gbk.csv"));
  ASSERT_EQ(r.exit_code, 0) << said(r);
  // Not a terminal: no progress bar (no carriage returns, no escape sequences).
  EXPECT_EQ(r.out.find('\r'), std::string::npos) << said(r);
  EXPECT_EQ(r.out.find("\x1b["), std::string::npos) << said(r);
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << said(r);

  EXPECT_EQ(scalar(v.db, "SELECT COUNT(*) FROM core_persons"), kFixturePersons);
  EXPECT_EQ(scalar(v.db, "SELECT COUNT(*) FROM core_households"), kFixtureHouseholds);
  EXPECT_EQ(scalar(v.db, "SELECT COUNT(*) FROM core_org_units"), kFixtureUnits);

  const std::string q_name = "SELECT name FROM core_persons WHERE phone = ?";
  EXPECT_EQ(text(v.db, q_name, {"+8613900000101"s}), "张建国");
  EXPECT_EQ(text(v.db, q_name, {"+8613900000102"s}), "李秀英") << "139 0000 0102 normalised";
  EXPECT_EQ(text(v.db, q_name, {"+8613900000109"s}), "Smith, John");
  EXPECT_EQ(text(v.db, q_name, {"+8613900000139"s}), "邓佳怡");
  EXPECT_EQ(text(v.db, "SELECT lang FROM core_persons WHERE phone = ?", {"+8613900000110"s}), "en");
  EXPECT_EQ(text(v.db, "SELECT head_name FROM core_households WHERE code = 'H104'"), "Smith, John");
  EXPECT_EQ(
      text(v.db, "SELECT u.path FROM core_persons p JOIN core_org_units u ON u.id = p.org_unit_id WHERE p.phone = ?",
           {"+8613900000101"s}),
      "一组/东院");
  EXPECT_EQ(text(v.db,
                 "SELECT p.path FROM core_org_units u JOIN core_org_units p ON p.id = u.parent_id "
                 "WHERE u.path = '三组/南院'"),
            "三组");

  EXPECT_EQ(roles_of(v.db, "+8613900000101"),
            (std::set<std::string>{"villager", "central_household_head", "party_member"}));
  EXPECT_EQ(roles_of(v.db, "+8613900000103"), (std::set<std::string>{"villager", "emergency_team", "volunteer"}));
  EXPECT_EQ(roles_of(v.db, "+8613900000105"), (std::set<std::string>{"villager", "group_leader", "party_member"}));
  EXPECT_EQ(roles_of(v.db, "+8613900000109"), (std::set<std::string>{"villager", "volunteer"}));
  EXPECT_EQ(roles_of(v.db, "+8613900000121"), (std::set<std::string>{"villager", "supervisor"}));
  EXPECT_EQ(roles_of(v.db, "+8613900000126"), (std::set<std::string>{"villager", "cadre", "party_member"}));
  EXPECT_EQ(roles_of(v.db, "+8613900000128"), (std::set<std::string>{"villager", "commander"}));
  EXPECT_EQ(roles_of(v.db, "+8613900000137"), (std::set<std::string>{"villager", "admin"}));
  EXPECT_EQ(scalar(v.db, "SELECT COUNT(*) FROM core_person_roles WHERE role = 'villager'"), kFixturePersons);

  // 一户十联 and 四包一联.
  const std::string q_central =
      "SELECT c.code FROM core_households h JOIN core_households c ON c.id = h.central_household_id WHERE h.code = ?";
  EXPECT_EQ(text(v.db, q_central, {"H102"s}), "H101");
  EXPECT_EQ(text(v.db, q_central, {"H110"s}), "H108");
  EXPECT_EQ(text(v.db, q_central, {"H101"s}), "<none>");
  const std::string q_responsible =
      "SELECT p.phone FROM core_org_units u JOIN core_persons p ON p.id = u.responsible_person_id WHERE u.path = ?";
  EXPECT_EQ(text(v.db, q_responsible, {""s}), "+8613900000126") << "全村 is the root";
  EXPECT_EQ(text(v.db, q_responsible, {"一组"s}), "+8613900000105");
  EXPECT_EQ(text(v.db, q_responsible, {"一组/西院"s}), "+8613900000111");
  EXPECT_EQ(text(v.db, q_responsible, {"三组/南院"s}), "+8613900000129");

  const std::string q_identity =
      "SELECT p.phone FROM core_identities i JOIN core_persons p ON p.id = i.person_id WHERE i.kind = ? AND "
      "i.external_id = ?";
  EXPECT_EQ(text(v.db, q_identity, {"wecom"s, "zhangjianguo"s}), "+8613900000101");
  EXPECT_EQ(text(v.db, q_identity, {"dingtalk"s, "ding1001"s}), "+8613900000103");
  EXPECT_EQ(text(v.db, q_identity, {"feishu"s, "ou_liuxinyi"s}), "+8613900000106");
  EXPECT_EQ(text(v.db, q_identity, {"telegram"s, "123456789"s}), "+8613900000115");
}

TEST(DirectoryCli, BomFileImportsTheSameRegisterAsGbk) {
  Village gbk;
  Village bom;
  ASSERT_EQ(gbk.import(fixture("people_gbk.csv")).exit_code, 0);
  const auto r = bom.import(fixture("people_bom.csv"));
  ASSERT_EQ(r.exit_code, 0) << said(r);
  EXPECT_EQ(text(bom.db, "SELECT code FROM core_households ORDER BY id LIMIT 1"), "H101") << "no BOM in the first cell";
  EXPECT_TRUE(same_rows(register_of(gbk.db), register_of(bom.db)));
  EXPECT_EQ(bom.exported(), gbk.exported());

  // The same people in the other encoding: nothing to change.
  const auto before = dump(gbk.db);
  const auto again = gbk.import(fixture("people_bom.csv"));
  EXPECT_EQ(again.exit_code, 0) << said(again);
  EXPECT_TRUE(same_rows(before, dump(gbk.db))) << said(again);
}

TEST(DirectoryCli, ABadLine37RefusesTheWholeFileAndChangesNothing) {
  Village v;
  ASSERT_EQ(v.import(fixture("people_gbk.csv")).exit_code, 0);
  // Some more change history, so that "unchanged" covers tokens and the audit log too.
  ASSERT_EQ(v.cli({"token", "create", "--name", "clerk", "--role", "admin"}).exit_code, 0);
  const auto before = dump(v.db);

  const auto r = v.import(fixture("people_line37_bad_phone.csv"));
  EXPECT_EQ(r.exit_code, 1) << said(r);
  const std::string all = r.out + r.err;
  EXPECT_THAT(all, HasSubstr("line 37")) << said(r);
  EXPECT_THAT(all, HasSubstr("第 37 行")) << said(r);
  EXPECT_THAT(all, HasSubstr("手机")) << "the column" << said(r);
  EXPECT_THAT(all, HasSubstr("invalid phone")) << "the reason" << said(r);
  for (const char* other : {"line 36", "line 38", "line 2:", "line 40"})
    EXPECT_THAT(all, Not(HasSubstr(other))) << "only line 37 is bad" << said(r);
  EXPECT_TRUE(same_rows(before, dump(v.db))) << "row for row unchanged, the audit log included";

  // The same file into an empty register: still nothing.
  Village empty;
  const auto r2 = empty.import(fixture("people_line37_bad_phone.csv"));
  EXPECT_EQ(r2.exit_code, 1) << said(r2);
  EXPECT_THAT(r2.out + r2.err, HasSubstr("line 37"));
  EXPECT_EQ(scalar(empty.db, "SELECT COUNT(*) FROM core_persons"), 0);
  EXPECT_EQ(scalar(empty.db, "SELECT COUNT(*) FROM core_households"), 0);
  EXPECT_EQ(scalar(empty.db, "SELECT COUNT(*) FROM core_org_units"), 0);
  EXPECT_EQ(audit_rows(empty.db), 0);

  // A dry run of it says the same and writes nothing either.
  const auto dry = v.import(fixture("people_line37_bad_phone.csv"), {"--dry-run"});
  EXPECT_NE(dry.exit_code, 0) << said(dry);
  EXPECT_THAT(dry.out + dry.err, HasSubstr("line 37"));
  EXPECT_TRUE(same_rows(before, dump(v.db)));
}

TEST(DirectoryCli, SkipBadImportsTheOtherRows) {
  Village v;
  // A dry run first: the 38 good rows are listed, line 37 is reported, nothing is written.
  const auto dry = v.import(fixture("people_line37_bad_phone.csv"), {"--skip-bad", "--dry-run"});
  EXPECT_TRUE(dry.exit_code == 0 || dry.exit_code == 1) << said(dry);
  EXPECT_THAT(dry.out + dry.err, HasSubstr("line 37")) << said(dry);
  EXPECT_EQ(change_lines(dry, "+ person ").size(), static_cast<std::size_t>(kFixturePersons - 1)) << said(dry);
  EXPECT_THAT(dry.out, Not(HasSubstr("曹宇"))) << said(dry);
  EXPECT_EQ(scalar(v.db, "SELECT COUNT(*) FROM core_persons"), 0);
  EXPECT_EQ(audit_rows(v.db), 0);

  const auto r = v.import(fixture("people_line37_bad_phone.csv"), {"--skip-bad"});
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << said(r);
  RecordProperty("skip_bad_exit_code", r.exit_code);
  EXPECT_THAT(r.out + r.err, HasSubstr("line 37")) << "the skipped row is still reported" << said(r);
  EXPECT_EQ(scalar(v.db, "SELECT COUNT(*) FROM core_persons"), kFixturePersons - 1) << said(r);
  EXPECT_EQ(scalar(v.db, "SELECT COUNT(*) FROM core_persons WHERE name = '曹宇'"), 0);
  EXPECT_EQ(scalar(v.db, "SELECT COUNT(*) FROM core_persons WHERE phone LIKE '%1390000136'"), 0);
  EXPECT_EQ(text(v.db, "SELECT name FROM core_persons WHERE phone = '+8613900000137'"), "邓志强") << "line 38";
  EXPECT_EQ(scalar(v.db,
                   "SELECT COUNT(*) FROM core_persons p JOIN core_households h ON h.id = p.household_id "
                   "WHERE h.code = 'H114'"),
            2);
  EXPECT_GT(scalar(v.db, "SELECT COUNT(*) FROM core_audit_log WHERE via = 'cli'"), 0);
}

TEST(DirectoryCli, DryRunListsTheChangesAndWritesNothing) {
  Village v;
  // Into an empty register: every person is new.
  auto r = v.import(fixture("people_gbk.csv"), {"--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << said(r);
  const auto added = change_lines(r, "+ person ");
  EXPECT_EQ(added.size(), static_cast<std::size_t>(kFixturePersons)) << said(r);
  EXPECT_THAT(joined(added), HasSubstr("+ person 张建国 +8613900000101\n")) << said(r);
  EXPECT_THAT(joined(added), HasSubstr("Smith, John")) << said(r);
  EXPECT_TRUE(change_lines(r, "~ ").empty()) << said(r);
  const auto lines = lines_of(r.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines.back(), HasSubstr("39")) << "the counts line comes last" << said(r);
  EXPECT_EQ(scalar(v.db, "SELECT COUNT(*) FROM core_persons"), 0);
  EXPECT_EQ(audit_rows(v.db), 0) << "a dry run is not a change";

  // Against the imported register: one new person, one renamed, one unchanged.
  ASSERT_EQ(v.import(fixture("people_gbk.csv")).exit_code, 0);
  const auto before = dump(v.db);
  const std::string change = std::string(kChineseHeader) +
                             "\nH101,张建国,张建国,13900000101,一组/东院,中心户长、党员,zhangjianguo,,,,,,\n"
                             "H101,张建国,李秀珍,13900000102,一组/东院,村民,,,,,,,\n"
                             "H116,钱新,钱新,13900000140,二组,党员,,,,,,H108,\n";
  r = v.import_bytes(change, {"--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << said(r);
  const auto plus = change_lines(r, "+ person ");
  ASSERT_EQ(plus.size(), 1u) << said(r);
  EXPECT_EQ(plus[0], "+ person 钱新 +8613900000140");
  const auto tilde = change_lines(r, "~ person ");
  ASSERT_EQ(tilde.size(), 1u) << "only the changed person, not the unchanged one" << said(r);
  EXPECT_TRUE(tilde[0].find("李秀") != std::string::npos || tilde[0].find("13900000102") != std::string::npos)
      << tilde[0];
  for (const auto& line : lines_of(r.out)) {
    if (starts_with(line, "~ ") || starts_with(line, "+ ")) {
      EXPECT_THAT(line, Not(HasSubstr("13900000101"))) << "张建国 is unchanged" << said(r);
    }
  }
  EXPECT_TRUE(same_rows(before, dump(v.db))) << "a dry run writes nothing";

  // And for real.
  r = v.import_bytes(change);
  ASSERT_EQ(r.exit_code, 0) << said(r);
  EXPECT_EQ(text(v.db, "SELECT name FROM core_persons WHERE phone = '+8613900000102'"), "李秀珍");
  EXPECT_EQ(text(v.db, "SELECT name FROM core_persons WHERE phone = '+8613900000140'"), "钱新");
  EXPECT_EQ(scalar(v.db, "SELECT COUNT(*) FROM core_persons"), kFixturePersons + 1);
}

TEST(DirectoryCli, NoProgressBarWhenOutputIsNotATerminal) {
  Village v;
  std::string csv(kChineseHeader);
  csv += "\n";
  for (int i = 0; i < 3000; ++i)
    csv += "P" + std::to_string(i / 3) + ",户主" + std::to_string(i / 3) + ",村民" + std::to_string(i) + "," +
           std::to_string(13700000000LL + i) + ",一组\n";
  const auto r = v.import_bytes(csv);
  ASSERT_EQ(r.exit_code, 0) << said(r);
  EXPECT_EQ(r.out.find('\r'), std::string::npos);
  EXPECT_EQ(r.out.find("\x1b["), std::string::npos);
  EXPECT_EQ(r.err.find('\r'), std::string::npos);
  EXPECT_EQ(r.err.find("\x1b["), std::string::npos);
  EXPECT_EQ(scalar(v.db, "SELECT COUNT(*) FROM core_persons"), 3000);
}

// ---- export ------------------------------------------------------------------------

TEST(DirectoryCli, ExportIsUtf8WithBomChineseHeadersAndRoundTrips) {
  Village v;
  ASSERT_EQ(v.import(fixture("people_gbk.csv")).exit_code, 0);
  const std::string csv = v.exported();
  ASSERT_TRUE(starts_with(csv, kBom)) << "EF BB BF first";
  EXPECT_EQ(lines_of(csv.substr(kBom.size())).at(0), kChineseHeader);
  const Table t = read_export(csv);
  ASSERT_EQ(t.rows.size(), static_cast<std::size_t>(kFixturePersons)) << csv;
  for (const auto& row : t.rows) EXPECT_EQ(row.size(), t.header.size()) << joined(row);

  auto row = t.by_phone("13900000101", "手机");
  EXPECT_EQ(t.cell(row, "户号"), "H101");
  EXPECT_EQ(t.cell(row, "户主"), "张建国");
  EXPECT_EQ(t.cell(row, "姓名"), "张建国");
  EXPECT_EQ(t.cell(row, "村民小组"), "一组/东院");
  EXPECT_EQ(role_set(t.cell(row, "角色")), (std::set<std::string>{"中心户长", "党员"}));
  EXPECT_THAT(t.cell(row, "角色"), HasSubstr("、")) << "roles joined with 、";
  EXPECT_EQ(t.cell(row, "企业微信"), "zhangjianguo");
  EXPECT_EQ(t.cell(row, "中心户"), "");

  row = t.by_phone("13900000105", "手机");
  EXPECT_EQ(role_set(t.cell(row, "角色")), (std::set<std::string>{"组长", "党员"}));
  EXPECT_EQ(t.cell(row, "中心户"), "H101");
  EXPECT_EQ(t.cell(row, "负责"), "一组");

  row = t.by_phone("13900000109", "手机");
  EXPECT_EQ(t.cell(row, "姓名"), "Smith, John");
  EXPECT_EQ(role_set(t.cell(row, "角色")), std::set<std::string>{"志愿者"}) << "roles in Chinese";
  EXPECT_EQ(t.cell(row, "语言"), "en");
  row = t.by_phone("13900000115", "手机");
  EXPECT_EQ(t.cell(row, "telegram"), "123456789");
  row = t.by_phone("13900000106", "手机");
  EXPECT_EQ(t.cell(row, "飞书"), "ou_liuxinyi");
  row = t.by_phone("13900000103", "手机");
  EXPECT_EQ(t.cell(row, "钉钉"), "ding1001");
  EXPECT_EQ(role_set(t.cell(row, "角色")), (std::set<std::string>{"应急队员", "志愿者"}));
  row = t.by_phone("13900000126", "手机");
  EXPECT_TRUE(t.cell(row, "负责") == "全村" || t.cell(row, "负责") == "*") << t.cell(row, "负责");
  row = t.by_phone("13900000102", "手机");
  EXPECT_TRUE(role_set(t.cell(row, "角色")).empty()) << t.cell(row, "角色");

  // --out writes the same bytes to a file.
  const fs::path out = v.dir / "export.csv";
  const auto r = v.export_people({"--out", out.string()});
  ASSERT_EQ(r.exit_code, 0) << said(r);
  EXPECT_EQ(slurp(out), csv);
  EXPECT_EQ(r.out.find("张建国"), std::string::npos) << "with --out, the CSV is not also printed";

  // Importing the export again changes nothing: not the data, and so no audit entry either.
  const auto before = dump(v.db);
  const auto before_data = dump(v.db, false);
  const auto dry = v.import(out, {"--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << said(dry);
  EXPECT_TRUE(change_lines(dry, "+ ").empty()) << said(dry);
  EXPECT_TRUE(change_lines(dry, "~ ").empty()) << said(dry);
  const auto again = v.import(out);
  EXPECT_EQ(again.exit_code, 0) << said(again);
  EXPECT_TRUE(same_rows(before_data, dump(v.db, false))) << said(again);
  EXPECT_TRUE(same_rows(before, dump(v.db))) << "no change, so no audit entry" << said(again);

  // Into an empty register, the export gives the same register back.
  Village copy;
  const auto into_copy = copy.import(out);
  ASSERT_EQ(into_copy.exit_code, 0) << said(into_copy);
  EXPECT_TRUE(same_rows(register_of(v.db), register_of(copy.db)));
  EXPECT_EQ(copy.exported(), csv);
}

TEST(DirectoryCli, ExportWithEnglishHeadersRoundTrips) {
  Village v;
  ASSERT_EQ(v.import(fixture("people_bom.csv")).exit_code, 0);
  const std::string csv = v.exported({"--headers", "en"});
  ASSERT_TRUE(starts_with(csv, kBom));
  EXPECT_EQ(lines_of(csv.substr(kBom.size())).at(0), kEnglishHeader);
  const Table t = read_export(csv);
  EXPECT_EQ(t.rows.size(), static_cast<std::size_t>(kFixturePersons));
  const auto row = t.by_phone("13900000101", "phone");
  EXPECT_EQ(t.cell(row, "name"), "张建国");
  EXPECT_EQ(t.cell(row, "group"), "一组/东院");

  const auto before = dump(v.db);
  const auto r = v.import_bytes(csv);
  EXPECT_EQ(r.exit_code, 0) << said(r);
  EXPECT_TRUE(same_rows(before, dump(v.db))) << said(r);

  const auto bad = v.export_people({"--headers", "klingon"});
  EXPECT_NE(bad.exit_code, 0) << "an unknown header language is refused" << said(bad);
  EXPECT_THAT(bad.out, Not(HasSubstr("household,"))) << said(bad);
  const auto unwritable = v.export_people({"--out", (v.dir / "no-such-folder" / "export.csv").string()});
  EXPECT_EQ(unwritable.exit_code, 1) << said(unwritable);
  EXPECT_THAT(unwritable.err, HasSubstr("no-such-folder")) << said(unwritable);
}

TEST(DirectoryCli, AnEmptyRegisterExportsTheHeaderAlone) {
  Village v;
  const std::string csv = v.exported();
  EXPECT_EQ(csv, std::string(kBom) + std::string(kChineseHeader) + "\r\n");
  // Importing it changes nothing (whatever it says about a file without rows).
  const auto r = v.import_bytes(csv);
  expect_no_crash(r);
  RecordProperty("header_only_import_exit_code", r.exit_code);
  EXPECT_EQ(scalar(v.db, "SELECT COUNT(*) FROM core_persons"), 0);
  EXPECT_EQ(audit_rows(v.db), 0);
}

// The server and the CLI share the database: an import beside a running server neither fails on a
// lock nor goes unseen (the server's sender cache lasts 2 s).
TEST(DirectoryCli, AnImportBesideARunningServerIsSeenWithinTwoSeconds) {
  Village v(true);
  Child server(v.serve_args());
  const int port = port_from_line(server.wait_for_line("listening on"));
  ASSERT_GT(port, 0);
  int n = 0;
  auto say = [&](const std::string& sender) {
    const auto body =
        nlohmann::json{{"message_id", "cli-" + std::to_string(++n)}, {"sender", sender}, {"text", "帮助"}};
    return http_call(port, "POST", "/hooks/generic", "", body.dump());
  };
  auto before = say("13900000101");
  ASSERT_EQ(before.status, 200) << before.body << before.error;
  EXPECT_THAT(before.body, HasSubstr("未登记")) << before.body;

  const auto r = v.import(fixture("people_gbk.csv"));
  ASSERT_EQ(r.exit_code, 0) << said(r);
  const auto start = std::chrono::steady_clock::now();
  ClientResponse after;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    after = say("13900000101");
    if (after.status == 200 && after.body.find("未登记") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const auto waited =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(after.status, 200) << after.body;
  EXPECT_THAT(after.body, Not(HasSubstr("未登记"))) << after.body;
  EXPECT_LE(waited, 3000) << "the import shows within the 2 s cache";
  // The people of the small village are still there: the file adds, it does not replace.
  EXPECT_THAT(say("13800000001").body, Not(HasSubstr("未登记")));

  server.signal(SIGTERM);
  const auto exit = server.wait();
  EXPECT_EQ(exit.exit_code, 0) << exit.err;
}

// ---- hostile input -------------------------------------------------------------------

// Cells Excel would run as formulas are stored as written, exported with a leading ' (so Excel
// shows them as text), and the ' is taken off again on import.
TEST(DirectoryCli, FormulaLookingCellsAreStoredVerbatimAndExportedDefused) {
  Village v;
  const std::string calc = "=cmd|' /C calc'!A0";
  const std::string csv = std::string(kChineseHeader) + "\n" +                                       //
                          "-H900," + calc + "," + calc + ",13900000201,一组,,@evil,,,,,,\n" +        // line 2
                          "-H900," + calc + ",+SUM(1;2),13900000202,一组,,,,,,,,\n" +                // line 3
                          "H901,@SUM(A1),-2+3,13900000203,二组,,,,,,,-H900,\n" +                     // line 4
                          "H902,王五,\"'=HYPERLINK(\"\"http://x\"\")\",13900000204,二组,,,,,,,,\n";  // line 5
  const auto r = v.import_bytes(csv);
  ASSERT_EQ(r.exit_code, 0) << said(r);
  const std::string q_name = "SELECT name FROM core_persons WHERE phone = ?";
  EXPECT_EQ(text(v.db, q_name, {"+8613900000201"s}), calc);
  EXPECT_EQ(text(v.db, q_name, {"+8613900000202"s}), "+SUM(1;2)");
  EXPECT_EQ(text(v.db, q_name, {"+8613900000203"s}), "-2+3");
  EXPECT_EQ(text(v.db, q_name, {"+8613900000204"s}), "=HYPERLINK(\"http://x\")") << "one leading ' is taken off";
  EXPECT_EQ(text(v.db, "SELECT head_name FROM core_households WHERE code = '-H900'"), calc);
  EXPECT_EQ(text(v.db, "SELECT head_name FROM core_households WHERE code = 'H901'"), "@SUM(A1)");
  EXPECT_EQ(text(v.db, "SELECT external_id FROM core_identities WHERE kind = 'wecom'"), "@evil");
  EXPECT_EQ(text(v.db,
                 "SELECT c.code FROM core_households h JOIN core_households c ON c.id = "
                 "h.central_household_id WHERE h.code = 'H901'"),
            "-H900");

  const std::string exported = v.exported();
  const Table t = read_export(exported);
  auto row = t.by_phone("13900000201", "手机");
  EXPECT_EQ(t.cell(row, "姓名"), "'" + calc);
  EXPECT_EQ(t.cell(row, "户主"), "'" + calc);
  EXPECT_EQ(t.cell(row, "户号"), "'-H900");
  EXPECT_EQ(t.cell(row, "企业微信"), "'@evil");
  row = t.by_phone("13900000202", "手机");
  EXPECT_EQ(t.cell(row, "姓名"), "'+SUM(1;2)");
  row = t.by_phone("13900000203", "手机");
  EXPECT_EQ(t.cell(row, "姓名"), "'-2+3");
  EXPECT_EQ(t.cell(row, "户主"), "'@SUM(A1)");
  EXPECT_EQ(t.cell(row, "中心户"), "'-H900");
  row = t.by_phone("13900000204", "手机");
  EXPECT_EQ(t.cell(row, "姓名"), "'=HYPERLINK(\"http://x\")");
  // No cell at all that Excel would evaluate (a phone written +86... included).
  for (const auto& line : t.rows)
    for (const auto& cell : line)
      EXPECT_FALSE(!cell.empty() && std::string_view("=+-@").find(cell[0]) != std::string_view::npos)
          << "cell [" << cell << "] of row " << joined(line);

  const auto before = dump(v.db);
  const auto again = v.import_bytes(exported);
  EXPECT_EQ(again.exit_code, 0) << said(again);
  EXPECT_TRUE(same_rows(before, dump(v.db))) << "the export re-imports without a change" << said(again);
  EXPECT_EQ(text(v.db, q_name, {"+8613900000201"s}), calc);
}

// The export's promise is "importing it again changes nothing" — for whatever the register
// holds, including what the admin API can store and a CSV row cannot say directly.
class ExportOfApiData : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(v.import(fixture("people_gbk.csv")).exit_code, 0);
    const auto created = v.cli({"token", "create", "--name", "clerk", "--role", "admin"});
    ASSERT_EQ(created.exit_code, 0) << said(created);
    token = lines_of(created.out).at(0);
    server = std::make_unique<Child>(v.serve_args());
    port = port_from_line(server->wait_for_line("listening on"));
    ASSERT_GT(port, 0);
  }
  void TearDown() override {
    if (server) {
      server->signal(SIGTERM);
      EXPECT_EQ(server->wait().exit_code, 0);
    }
  }
  std::int64_t id_of(const std::string& phone) {
    const auto j =
        nlohmann::json::parse(http_call(port, "GET", "/api/v1/persons?q=" + phone, token).body, nullptr, false);
    return j.is_object() && j.contains("items") && !j["items"].empty() ? j["items"][0]["id"].get<std::int64_t>()
                                                                       : std::int64_t{0};
  }
  std::int64_t unit_id(const std::string& path) {
    const auto j =
        nlohmann::json::parse(http_call(port, "GET", "/api/v1/org-units?q=" + path, token).body, nullptr, false);
    if (j.is_object() && j.contains("items"))
      for (const auto& u : j["items"])
        if (u.value("path", "") == path) return u["id"].get<std::int64_t>();
    return 0;
  }
  // PUT /api/v1/persons/{id}: true when the API stored it.
  bool put_person(const std::string& phone, const nlohmann::json& body) {
    const auto id = id_of(phone);
    EXPECT_GT(id, 0) << phone;
    const auto r = http_call(port, "PUT", "/api/v1/persons/" + std::to_string(id), token, body.dump());
    EXPECT_EQ(r.status, 200) << "the API refused " << body.dump() << ": " << r.body;
    return r.status == 200;
  }
  // Export, import the export; the data tables must be as they were.
  void expect_round_trip() {
    server->signal(SIGTERM);
    EXPECT_EQ(server->wait().exit_code, 0);
    server.reset();
    exported = v.exported();
    const auto before = dump(v.db, false);
    const auto r = v.import_bytes(exported);
    EXPECT_EQ(r.exit_code, 0) << "the export must import" << said(r);
    EXPECT_TRUE(same_rows(before, dump(v.db, false))) << said(r);
  }
  std::string name_of(const std::string& phone) {
    return text(v.db, "SELECT name FROM core_persons WHERE phone = ?", {"+86" + phone});
  }

  Village v;
  std::string token;
  std::unique_ptr<Child> server;
  int port = 0;
  std::string exported;
};

// The import takes one ' off before = + - @ (the export's guard), so a value that itself starts
// with ' and then = + - @ needs a second ' in the export.
TEST_F(ExportOfApiData, ANameStartingWithAQuote) {
  ASSERT_TRUE(put_person("13900000101", {{"name", "'=1+2"}}));
  ASSERT_TRUE(put_person("13900000102", {{"name", "'李'"}}));
  ASSERT_TRUE(put_person("13900000103", {{"name", "''@x"}}));
  expect_round_trip();
  EXPECT_EQ(name_of("13900000101"), "'=1+2") << exported.substr(0, 300);
  EXPECT_EQ(name_of("13900000102"), "'李'");
  EXPECT_EQ(name_of("13900000103"), "''@x");
}

// The API stores text verbatim; the import trims blanks (space, U+3000, NBSP) around cells.
TEST_F(ExportOfApiData, ANameWithBlanksAroundIsTrimmedLikeTheImportTrimsIt) {
  ASSERT_TRUE(put_person("13900000104", {{"name", "王淑芬 "}}));
  ASSERT_TRUE(put_person("13900000105", {{"name", "\xE3\x80\x80刘强"}}));
  expect_round_trip();
  EXPECT_EQ(name_of("13900000104"), "王淑芬");
  EXPECT_EQ(name_of("13900000105"), "刘强");
}

// The API lets a person's unit differ from their household's; the CSV has one 村民小组 per
// household (rows of a household must agree), and the export writes the household's.
TEST_F(ExportOfApiData, APersonLivesInTheirHouseholdsUnit) {
  // The register has one 村民小组 per household, so the API refuses a person in another unit
  // (move the household instead) and the export → import round trip stays exact.
  const auto group2 = unit_id("二组");
  ASSERT_GT(group2, 0);
  const auto id = id_of("13900000106");  // 刘欣怡 of H102 (一组/东院)
  const auto r = http_call(port, "PUT", "/api/v1/persons/" + std::to_string(id), token,
                           nlohmann::json{{"org_unit_id", group2}}.dump());
  EXPECT_EQ(r.status, 422) << r.body;
  expect_round_trip();
  EXPECT_EQ(
      text(v.db, "SELECT u.path FROM core_persons p JOIN core_org_units u ON u.id = p.org_unit_id WHERE p.phone = ?",
           {"+8613900000106"s}),
      "一组/东院");
}

TEST(DirectoryCli, HostileFilesGetAClearErrorAndChangeNothing) {
  Village v;
  ASSERT_EQ(v.import(fixture("people_gbk.csv")).exit_code, 0);
  const auto before = dump(v.db);
  const std::string header = std::string(kChineseHeader) + "\n";

  struct Case {
    std::string what;
    std::string bytes;
    std::vector<std::string> said;  // each must appear in the output
  };
  std::string junk;
  std::mt19937 rng(37);
  for (int i = 0; i < 8192; ++i) junk += static_cast<char>(rng() & 0xFF);
  std::string many_bad = header;
  for (int i = 0; i < 5000; ++i) many_bad += "H1,a,a,1\n";
  const std::vector<Case> cases = {
      {"NUL byte in a name", header + "H120,甲,甲\0乙,13900000301\n"s, {"line 2", "姓名"}},
      {"invalid UTF-8", header + "H120,甲,甲,13900000301\nH121,\xFF\xFE,乙,13900000302\n", {"line 3", "UTF-8"}},
      {"UTF-16 (Excel's Unicode text)", "\xFF\xFE\x37\x62\xF7\x53"s, {"UTF-8"}},
      {"a 1 MB name", header + "H120,甲," + std::string(1 << 20, 'x') + ",13900000301\n", {"line 2", "too long"}},
      {"an unterminated quote",
       header + "H120,\"甲,甲,13900000301\nH121,乙,乙,13900000302\n",
       {"line 2", "unterminated"}},
      {"a formula as phone", header + "H120,甲,甲,=1+1\n", {"line 2", "invalid phone"}},
      {"an empty file", "", {"empty"}},
      {"only a BOM", std::string(kBom), {"empty"}},
      {"random bytes", junk, {}},
      {"5,000 bad rows", many_bad, {"line 2", "line 3"}},
      {"UTF-8 header, a GBK name", header + "H120,\xD5\xC5\xC8\xFD,\xD5\xC5\xC8\xFD,13900000301\n", {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const auto r = v.import_bytes(c.bytes);
    EXPECT_EQ(r.exit_code, 1) << said(r);
    EXPECT_FALSE((r.out + r.err).empty());
    for (const auto& s : c.said) EXPECT_THAT(r.out + r.err, HasSubstr(s)) << said(r);
    EXPECT_LT(r.out.size() + r.err.size(), 300'000u) << "the report stays readable";
  }
  EXPECT_TRUE(same_rows(before, dump(v.db))) << "nothing was written by any of them";

  // Files that are not there or not files.
  auto r = v.import(v.dir / "no-such-file.csv");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.out + r.err, HasSubstr("no-such-file.csv"));
  r = v.import(v.dir);
  EXPECT_NE(r.exit_code, 0) << said(r);
  EXPECT_TRUE(same_rows(before, dump(v.db)));
}

// ---- tokens ----------------------------------------------------------------------------

std::string token_hash(const fs::path& db, const std::string& name) {
  return text(db, "SELECT token_hash FROM core_tokens WHERE name = ?", {name});
}

void expect_no_secret(const std::string& output, const std::string& token, const std::string& hash) {
  ASSERT_GT(token.size(), 12u);
  ASSERT_GT(hash.size(), 16u);
  EXPECT_THAT(output, Not(HasSubstr(token.substr(0, 12)))) << output;
  EXPECT_THAT(output, Not(HasSubstr(token.substr(token.size() - 12)))) << output;
  EXPECT_THAT(output, Not(HasSubstr(hash.substr(0, 16)))) << output;
  EXPECT_THAT(output, Not(HasSubstr(hash.substr(hash.size() - 16)))) << output;
}

std::string line_with(const std::string& output, const std::string& needle) {
  for (const auto& line : lines_of(output))
    if (line.find(needle) != std::string::npos) return line;
  return {};
}

TEST(DirectoryCli, TokenListNeverShowsTheTokenAndRevokeWorks) {
  Village v(true);  // the small village: 13800000002 is 王小红, a cadre for 一组
  const auto admin = v.cli({"token", "create", "--name", "county-it", "--role", "admin"});
  ASSERT_EQ(admin.exit_code, 0) << said(admin);
  ASSERT_EQ(lines_of(admin.out).size(), 1u) << "only the token on stdout" << said(admin);
  const std::string admin_token = lines_of(admin.out)[0];
  EXPECT_TRUE(starts_with(admin_token, "vb_")) << admin_token;
  const auto cadre = v.cli({"token", "create", "--name", "wang-shuji", "--role", "cadre", "--person", "13800000002"});
  ASSERT_EQ(cadre.exit_code, 0) << said(cadre);
  const std::string cadre_token = lines_of(cadre.out).at(0);
  EXPECT_EQ(scalar(v.db,
                   "SELECT COUNT(*) FROM core_tokens t JOIN core_persons p ON p.id = t.person_id "
                   "WHERE t.name = 'wang-shuji' AND p.phone = '+8613800000002'"),
            1);

  auto list = v.cli({"token", "list"});
  ASSERT_EQ(list.exit_code, 0) << said(list);
  const std::string admin_line = line_with(list.out, "county-it");
  const std::string cadre_line = line_with(list.out, "wang-shuji");
  EXPECT_THAT(admin_line, HasSubstr("admin")) << list.out;
  EXPECT_THAT(admin_line, HasSubstr("active")) << list.out;
  EXPECT_THAT(cadre_line, HasSubstr("cadre")) << list.out;
  EXPECT_THAT(cadre_line, HasSubstr("active")) << list.out;
  EXPECT_TRUE(cadre_line.find("王小红") != std::string::npos || cadre_line.find("0002") != std::string::npos)
      << "the person the token acts for: " << list.out;
  expect_no_secret(list.out + list.err, admin_token, token_hash(v.db, "county-it"));
  expect_no_secret(list.out + list.err, cadre_token, token_hash(v.db, "wang-shuji"));

  auto r = v.cli({"token", "revoke", "--name", "county-it"});
  EXPECT_EQ(r.exit_code, 0) << said(r);
  list = v.cli({"token", "list"});
  EXPECT_THAT(line_with(list.out, "county-it"), HasSubstr("revoked")) << list.out;
  EXPECT_THAT(line_with(list.out, "wang-shuji"), HasSubstr("active")) << list.out;
  expect_no_secret(list.out + list.err, admin_token, token_hash(v.db, "county-it"));

  r = v.cli({"token", "revoke", "--name", "county-it"});
  EXPECT_EQ(r.exit_code, 1) << "already revoked" << said(r);
  EXPECT_FALSE((r.out + r.err).empty());
  r = v.cli({"token", "revoke", "--name", "nobody"});
  EXPECT_EQ(r.exit_code, 1) << said(r);
  EXPECT_THAT(r.out + r.err, HasSubstr("nobody"));

  // A person that is not in the register is refused, and no token is printed.
  r = v.cli({"token", "create", "--name", "ghost", "--role", "cadre", "--person", "13899999999"});
  EXPECT_NE(r.exit_code, 0) << said(r);
  EXPECT_THAT(r.out, Not(HasSubstr("vb_"))) << said(r);
  EXPECT_EQ(scalar(v.db, "SELECT COUNT(*) FROM core_tokens WHERE name = 'ghost'"), 0);
}

ClientResponse get(int port, const std::string& path, const std::string& token) {
  http::BeastHttpClient client;
  ClientRequest req;
  req.method = "GET";
  req.url = "http://127.0.0.1:" + std::to_string(port) + path;
  if (!token.empty()) req.headers.emplace_back("Authorization", "Bearer " + token);
  req.timeout = std::chrono::seconds(20);
  return client.request(req);
}

TEST(DirectoryCli, ARevokedTokenGets401FromARunningServer) {
  Village v(true);
  const auto created = v.cli({"token", "create", "--name", "county-it", "--role", "admin"});
  ASSERT_EQ(created.exit_code, 0) << said(created);
  const std::string token = lines_of(created.out).at(0);

  Child server(v.serve_args());
  const int port = port_from_line(server.wait_for_line("listening on"));
  ASSERT_GT(port, 0);
  EXPECT_EQ(get(port, "/api/v1/me", "").status, 401);
  auto ok = get(port, "/api/v1/me", token);
  EXPECT_EQ(ok.status, 200) << ok.body << ok.error;
  EXPECT_THAT(ok.body, HasSubstr("county-it"));

  const auto revoked = v.cli({"token", "revoke", "--name", "county-it"});
  EXPECT_EQ(revoked.exit_code, 0) << said(revoked);
  // The CLI is another process: the server must not keep honouring a revoked token.
  const auto start = std::chrono::steady_clock::now();
  int status = 0;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    status = get(port, "/api/v1/me", token).status;
    if (status == 401) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const auto waited =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(status, 401) << "still accepted " << waited << " ms after the revocation";
  EXPECT_LE(waited, 2500) << "a revocation should take effect at once (at most the 2 s directory cache)";
  RecordProperty("revocation_effective_after_ms", static_cast<int>(waited));
  EXPECT_EQ(get(port, "/api/v1/persons", token).status, 401);

  server.signal(SIGTERM);
  const auto exit = server.wait();
  EXPECT_EQ(exit.exit_code, 0) << exit.err;
}

// ---- the audit log -------------------------------------------------------------------------

TEST(DirectoryCli, CliChangesAreAuditedWithViaCli) {
  Village v;
  const auto t0 =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  ASSERT_EQ(v.import(fixture("people_gbk.csv")).exit_code, 0);
  const auto after_import = audit_rows(v.db);
  EXPECT_GT(after_import, 0);
  EXPECT_EQ(scalar(v.db, "SELECT COUNT(*) FROM core_audit_log WHERE via <> 'cli'"), 0);
  EXPECT_EQ(scalar(v.db, "SELECT COUNT(*) FROM core_audit_log WHERE at_ms < ?", {static_cast<std::int64_t>(t0)}), 0)
      << "at_ms is milliseconds since the epoch";
  EXPECT_EQ(scalar(v.db, "SELECT COUNT(*) FROM core_audit_log WHERE actor = ''"), 0);
  EXPECT_GT(scalar(v.db, "SELECT COUNT(*) FROM core_audit_log WHERE action LIKE 'import%' OR entity = 'person'"), 0);
  // A person created by the import is findable in the log, with its record after the change.
  EXPECT_GT(scalar(v.db,
                   "SELECT COUNT(*) FROM core_audit_log WHERE entity = 'person' AND before IS NULL AND "
                   "after LIKE '%张建国%'"),
            0);

  const auto created = v.cli({"token", "create", "--name", "clerk", "--role", "admin"});
  ASSERT_EQ(created.exit_code, 0) << said(created);
  const std::string token = lines_of(created.out).at(0);
  EXPECT_EQ(scalar(v.db,
                   "SELECT COUNT(*) FROM core_audit_log WHERE via = 'cli' AND entity = 'token' AND action = "
                   "'token.create'"),
            1);
  ASSERT_EQ(v.cli({"token", "revoke", "--name", "clerk"}).exit_code, 0);
  EXPECT_EQ(scalar(v.db,
                   "SELECT COUNT(*) FROM core_audit_log WHERE via = 'cli' AND entity = 'token' AND action = "
                   "'token.revoke'"),
            1);
  // The log never holds the token or its hash.
  const std::string hash = token_hash(v.db, "clerk");
  EXPECT_EQ(scalar(v.db,
                   "SELECT COUNT(*) FROM core_audit_log WHERE instr(COALESCE(before, '') || COALESCE(after, ''), ?) "
                   "OR instr(COALESCE(before, '') || COALESCE(after, ''), ?)",
                   {token.substr(3), hash}),
            0);

  // Changes that were not made leave no entry: a dry run, a refused file, an unchanged file.
  const auto entries = audit_rows(v.db);
  EXPECT_EQ(v.import(fixture("people_gbk.csv"), {"--dry-run"}).exit_code, 0);
  EXPECT_EQ(v.import(fixture("people_line37_bad_phone.csv")).exit_code, 1);
  EXPECT_EQ(v.cli({"token", "revoke", "--name", "clerk"}).exit_code, 1);
  EXPECT_EQ(audit_rows(v.db), entries);
  EXPECT_EQ(v.import(fixture("people_gbk.csv")).exit_code, 0);
  EXPECT_EQ(audit_rows(v.db), entries) << "re-importing an unchanged file changes nothing";

  // Append-only.
  storage::SqliteStorage s(v.db.string(), reader_options());
  EXPECT_ANY_THROW(s.write([](Session& session) { session.execute("UPDATE core_audit_log SET actor = 'x'"); }));
  EXPECT_ANY_THROW(s.write([](Session& session) { session.execute("DELETE FROM core_audit_log"); }));
}

}  // namespace
}  // namespace villagebot::testkit
