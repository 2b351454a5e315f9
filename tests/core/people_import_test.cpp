#include "directory/people_import.hpp"

#include <gtest/gtest.h>
#include <iconv.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "storage/core_schema.hpp"
#include "storage/sqlite_storage.hpp"

#ifndef VILLAGEBOT_SOURCE_DIR
#error "VILLAGEBOT_SOURCE_DIR must point to the repository root"
#endif

namespace villagebot::directory {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

std::string demo_csv() {
  const fs::path path = fs::path(VILLAGEBOT_SOURCE_DIR) / "config" / "demo" / "people.csv";
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

std::string to_gbk(const std::string& utf8) {
  iconv_t cd = iconv_open("GB18030", "UTF-8");
  EXPECT_NE(cd, reinterpret_cast<iconv_t>(-1));
  std::string out(utf8.size() * 2 + 16, '\0');
  char* src = const_cast<char*>(utf8.data());
  std::size_t src_left = utf8.size();
  char* dst = out.data();
  std::size_t dst_left = out.size();
  EXPECT_NE(iconv(cd, &src, &src_left, &dst, &dst_left), static_cast<std::size_t>(-1));
  iconv_close(cd);
  out.resize(out.size() - dst_left);
  return out;
}

std::string describe(const ImportReport& r) {
  std::ostringstream s;
  s << "rows=" << r.rows << " persons +" << r.persons_created << " ~" << r.persons_updated << " households +"
    << r.households_created << " ~" << r.households_updated << " units +" << r.org_units_created
    << " applied=" << r.applied << "\n";
  for (const auto& p : r.problems) s << "  line " << p.line << " [" << p.column << "] " << p.reason << "\n";
  return s.str();
}

bool has_problem(const ImportReport& r, int line, std::string_view column, std::string_view reason_part = {}) {
  return std::any_of(r.problems.begin(), r.problems.end(), [&](const ImportProblem& p) {
    return p.line == line && p.column == column && p.reason.find(reason_part) != std::string::npos;
  });
}

constexpr std::string_view kHeader = "户号,户主,姓名,手机,村民小组,角色,企业微信,钉钉,飞书,telegram,语言,中心户,负责\n";

class PeopleImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = (fs::temp_directory_path() /
             ("villagebot-people-" + std::string(info->name()) + "-" + std::to_string(::getpid()) + ".db"))
                .string();
    remove_files();
    storage_ = std::make_unique<storage::SqliteStorage>(path_, storage::SqliteOptions{.synchronous_full = false});
    storage_->migrate("core", storage::core_migrations());
  }
  void TearDown() override {
    storage_.reset();
    remove_files();
  }
  void remove_files() {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path_ + suffix);
  }

  ImportReport run(std::string_view csv, ImportOptions options = {}) { return import_people(*storage_, csv, options); }

  std::int64_t scalar(std::string_view sql, const std::vector<Value>& params = {}) {
    return storage_->read([&](Session& s) {
      auto rows = s.query(sql, params);
      return rows.empty() ? std::int64_t{-1} : rows[0].integer(0);
    });
  }
  std::string text(std::string_view sql, const std::vector<Value>& params = {}) {
    return storage_->read([&](Session& s) {
      auto rows = s.query(sql, params);
      return rows.empty() ? std::string("<none>") : rows[0].text(0);
    });
  }
  std::int64_t persons() { return scalar("SELECT COUNT(*) FROM core_persons"); }
  std::int64_t households() { return scalar("SELECT COUNT(*) FROM core_households"); }
  std::set<std::string> roles_of(const std::string& phone) {
    return storage_->read([&](Session& s) {
      std::set<std::string> roles;
      for (const auto& row : s.query("SELECT r.role FROM core_person_roles r JOIN core_persons p ON p.id = r.person_id "
                                     "WHERE p.phone = ?",
                                     {phone}))
        roles.insert(row.text(0));
      return roles;
    });
  }

  // Everything the import writes, as text without ids, so two imports can be compared.
  std::vector<std::string> dump() {
    return storage_->read([&](Session& s) {
      std::vector<std::string> out;
      for (const auto& r :
           s.query("SELECT p.name, p.phone, h.code, u.path, p.lang, "
                   " (SELECT group_concat(role, ',') FROM (SELECT role FROM core_person_roles WHERE person_id = p.id "
                   "ORDER BY role)), "
                   " (SELECT group_concat(kind || ':' || external_id, ',') FROM "
                   "   (SELECT kind, external_id FROM core_identities WHERE person_id = p.id ORDER BY kind)) "
                   "FROM core_persons p LEFT JOIN core_households h ON h.id = p.household_id "
                   "LEFT JOIN core_org_units u ON u.id = p.org_unit_id ORDER BY p.phone"))
        out.push_back(r.text(0) + "|" + r.text(1) + "|" + r.text(2) + "|" + r.text(3) + "|" + r.text(4) + "|" +
                      r.text(5) + "|" + r.text(6));
      for (const auto& r : s.query("SELECT h.code, h.head_name, u.path, c.code FROM core_households h "
                                   "LEFT JOIN core_org_units u ON u.id = h.org_unit_id "
                                   "LEFT JOIN core_households c ON c.id = h.central_household_id ORDER BY h.code"))
        out.push_back(r.text(0) + "|" + r.text(1) + "|" + r.text(2) + "|" + r.text(3));
      for (const auto& r : s.query("SELECT u.path, u.name, p.path, r.phone FROM core_org_units u "
                                   "LEFT JOIN core_org_units p ON p.id = u.parent_id "
                                   "LEFT JOIN core_persons r ON r.id = u.responsible_person_id ORDER BY u.path"))
        out.push_back(r.text(0) + "|" + r.text(1) + "|" + r.text(2) + "|" + r.text(3));
      return out;
    });
  }

  std::string path_;
  std::unique_ptr<storage::SqliteStorage> storage_;
};

// ---- the demo village --------------------------------------------------------

TEST_F(PeopleImportTest, DemoVillageImports) {
  const ImportReport r = run(demo_csv());
  ASSERT_TRUE(r.problems.empty()) << describe(r);
  EXPECT_TRUE(r.applied);
  EXPECT_EQ(r.rows, 200);
  EXPECT_EQ(r.persons_created, 200);
  EXPECT_EQ(r.households_created, 60);
  EXPECT_EQ(r.persons_updated + r.households_updated, 0);
  // The root and 一组 一组/东院 一组/西院 二组 三组 三组/南院 四组.
  EXPECT_EQ(r.org_units_created, 8);
  EXPECT_EQ(persons(), 200);
  EXPECT_EQ(households(), 60);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM core_org_units"), 8);

  const std::set<std::string> all_roles = {
      "villager",  "central_household_head", "party_member", "group_leader", "cadre", "evaluator", "supervisor",
      "commander", "emergency_team",         "volunteer",    "admin"};
  for (const auto& role : all_roles)
    EXPECT_GT(scalar("SELECT COUNT(*) FROM core_person_roles WHERE role = ?", {role}), 0) << role;
  EXPECT_EQ(scalar("SELECT COUNT(DISTINCT person_id) FROM core_person_roles WHERE role = 'villager'"), 200);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM core_person_roles WHERE role = 'emergency_team'"), 15);

  // 一户十联: six central households, every other household linked to one.
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM core_households WHERE central_household_id IS NOT NULL"), 54);
  EXPECT_EQ(scalar("SELECT COUNT(DISTINCT central_household_id) FROM core_households"), 6);
  EXPECT_EQ(
      scalar("SELECT COUNT(*) FROM core_households h JOIN core_persons p ON p.household_id = h.central_household_id "
             "JOIN core_person_roles r ON r.person_id = p.id AND r.role = 'central_household_head' "
             "WHERE h.code = 'H001'"),
      1);

  // The docs' villager.
  EXPECT_EQ(roles_of("+8613800000001"), std::set<std::string>{"villager"});
  EXPECT_EQ(text("SELECT h.code FROM core_persons p JOIN core_households h ON h.id = p.household_id WHERE p.phone = ?",
                 {std::string("+8613800000001")}),
            "H001");
  EXPECT_EQ(text("SELECT u.path FROM core_persons p JOIN core_org_units u ON u.id = p.org_unit_id WHERE p.phone = ?",
                 {std::string("+8613800000001")}),
            "一组/东院");
  EXPECT_EQ(text("SELECT head_name FROM core_households WHERE code = 'H001'"), "王建国");

  // 四包一联: every unit has someone answering for it, the root a cadre.
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM core_org_units WHERE responsible_person_id IS NULL"), 0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM core_org_units u JOIN core_person_roles r "
                   "ON r.person_id = u.responsible_person_id AND r.role = 'cadre' WHERE u.path = ''"),
            1);
  EXPECT_EQ(text("SELECT name FROM core_org_units WHERE path = '一组/东院'"), "东院");
  EXPECT_EQ(text("SELECT p.path FROM core_org_units u JOIN core_org_units p ON p.id = u.parent_id "
                 "WHERE u.path = '一组/东院'"),
            "一组");

  EXPECT_GT(scalar("SELECT COUNT(*) FROM core_identities WHERE kind = 'wecom'"), 100);
  for (const char* kind : {"dingtalk", "feishu", "telegram"})
    EXPECT_GT(scalar("SELECT COUNT(*) FROM core_identities WHERE kind = ?", {std::string(kind)}), 0) << kind;
  EXPECT_GT(scalar("SELECT COUNT(*) FROM core_persons p WHERE NOT EXISTS "
                   "(SELECT 1 FROM core_identities i WHERE i.person_id = p.id)"),
            10);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM core_persons WHERE lang = 'en'"), 2);
}

TEST_F(PeopleImportTest, GbkFileImportsLikeUtf8) {
  const std::string utf8 = demo_csv();
  ASSERT_TRUE(run(utf8).problems.empty());
  const auto expected = dump();
  storage_.reset();
  remove_files();
  storage_ = std::make_unique<storage::SqliteStorage>(path_, storage::SqliteOptions{.synchronous_full = false});
  storage_->migrate("core", storage::core_migrations());

  const std::string gbk = to_gbk(utf8);
  ASSERT_NE(gbk, utf8);
  ASSERT_EQ(decode_csv_bytes(gbk), utf8);
  const ImportReport r = run(gbk);
  ASSERT_TRUE(r.problems.empty()) << describe(r);
  EXPECT_EQ(dump(), expected);
}

TEST_F(PeopleImportTest, BomFileImportsLikeUtf8) {
  const std::string utf8 = demo_csv();
  const ImportReport r = run("\xEF\xBB\xBF" + utf8);
  ASSERT_TRUE(r.problems.empty()) << describe(r);
  EXPECT_EQ(persons(), 200);
  EXPECT_EQ(text("SELECT code FROM core_households ORDER BY id LIMIT 1"), "H001");  // no BOM in the first cell
}

TEST(DecodeCsvBytes, KnowsItsEncodings) {
  EXPECT_EQ(decode_csv_bytes("户号"), "户号");
  EXPECT_EQ(decode_csv_bytes("\xEF\xBB\xBF户号"), "户号");
  EXPECT_EQ(decode_csv_bytes("\xBB\xA7\xBA\xC5"), "户号");  // GBK
  EXPECT_EQ(decode_csv_bytes(""), "");
  EXPECT_EQ(decode_csv_bytes("\xFF\xFE\xFF"), std::nullopt);
  EXPECT_EQ(decode_csv_bytes("\xEF\xBB\xBF\xBB\xA7"), std::nullopt);  // a BOM promises UTF-8
}

TEST(ParseCsv, FollowsRfc4180AndExcel) {
  auto doc = parse_csv("a,\"b\r\nc\",\"d\"\"e\"\r\n\r\n,,\n\"x\"y,z\"w\rlast");
  ASSERT_FALSE(doc.error);
  ASSERT_EQ(doc.records.size(), 3u);
  EXPECT_EQ(doc.records[0].line, 1);
  EXPECT_EQ(doc.records[0].fields, (std::vector<std::string>{"a", "b\r\nc", "d\"e"}));
  EXPECT_EQ(doc.records[1].line, 5);  // the blank line and ",," are dropped
  EXPECT_EQ(doc.records[1].fields, (std::vector<std::string>{"xy", "z\"w"}));
  EXPECT_EQ(doc.records[2].line, 6);  // a lone CR ends a line too (old Mac Excel)
  EXPECT_EQ(doc.records[2].fields, std::vector<std::string>{"last"});

  doc = parse_csv("a\n\"open,\nstill open");
  ASSERT_TRUE(doc.error);
  EXPECT_EQ(doc.error->line, 2);
  EXPECT_EQ(doc.records.size(), 1u);

  doc = parse_csv("1,2,3,4,5\n", CsvLimits{.max_fields = 2});
  EXPECT_EQ(doc.records[0].fields.size(), 2u);
  EXPECT_EQ(doc.records[0].field_count, 5u);
}

// ---- refusals ----------------------------------------------------------------

TEST_F(PeopleImportTest, BadPhoneRefusesTheWholeFile) {
  ASSERT_TRUE(run(std::string(kHeader) + "H900,赵一,赵一,13800000201\n").applied);
  const auto before = dump();

  auto lines = lines_of(demo_csv());
  ASSERT_GE(lines.size(), 37u);
  std::string& line37 = lines[36];
  const auto phone_at = line37.find("1380000");
  ASSERT_NE(phone_at, std::string::npos);
  line37.replace(phone_at, 11, "1380000");  // too short
  const ImportReport r = run(join_lines(lines));
  EXPECT_FALSE(r.applied);
  EXPECT_TRUE(has_problem(r, 37, "手机", "invalid phone")) << describe(r);
  EXPECT_EQ(r.problems.size(), 1u) << describe(r);
  EXPECT_EQ(r.persons_created, 0);
  EXPECT_EQ(dump(), before);
  EXPECT_EQ(persons(), 1);
  EXPECT_EQ(households(), 1);
}

TEST_F(PeopleImportTest, UnknownRoleIsRefused) {
  const ImportReport r = run(std::string(kHeader) +
                             "H001,钱一,钱一,13800000201,一组,村民、党员\n"
                             "H001,钱一,钱二,13800000202,一组,村长\n");
  EXPECT_FALSE(r.applied);
  EXPECT_TRUE(has_problem(r, 3, "角色", "村长")) << describe(r);
  EXPECT_EQ(persons(), 0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM core_org_units"), 0);
}

TEST_F(PeopleImportTest, UnknownAndMissingHeadersAreRefused) {
  ImportReport r = run("户号,姓名,手机,生日\nH001,钱一,13800000201,1990-01-01\n");
  EXPECT_TRUE(has_problem(r, 1, "生日", "unknown column")) << describe(r);
  EXPECT_FALSE(r.applied);
  r = run("户号,姓名\nH001,钱一\n");
  EXPECT_TRUE(has_problem(r, 1, "手机", "missing required column")) << describe(r);
  r = run("户号,姓名,手机,姓名\nH001,钱一,13800000201,钱一\n");
  EXPECT_TRUE(has_problem(r, 1, "姓名", "duplicate column")) << describe(r);
  EXPECT_EQ(persons(), 0);
}

TEST_F(PeopleImportTest, RowProblemsAreAllReported) {
  const ImportReport r = run(std::string(kHeader) +
                             "H001,钱一,钱一,13800000201,一组,,,,,,,,\n"
                             "H001,钱一,钱二,138 0000 0201,一组\n"  // same phone, other spelling
                             "H002,,,13800000203\n"                 // no name
                             ",孙一,孙一,13800000204\n"             // no household
                             "H003,孙二,孙二,13800000205,,,,,,,klingon\n"
                             "H003,孙二,孙三,13800000206,,,,,,,,H404\n"  // central household unknown
                             "H004,周一,周一,13800000207,一组//东院\n");
  EXPECT_FALSE(r.applied);
  EXPECT_TRUE(has_problem(r, 3, "手机", "line 2")) << describe(r);
  EXPECT_TRUE(has_problem(r, 4, "姓名", "name is missing")) << describe(r);
  EXPECT_TRUE(has_problem(r, 5, "户号", "household code is missing")) << describe(r);
  EXPECT_TRUE(has_problem(r, 6, "语言", "klingon")) << describe(r);
  EXPECT_TRUE(has_problem(r, 7, "中心户", "H404")) << describe(r);
  EXPECT_TRUE(has_problem(r, 8, "村民小组", "empty part")) << describe(r);
  EXPECT_EQ(persons(), 0);
}

// ---- dry run and re-import ------------------------------------------------------

TEST_F(PeopleImportTest, DryRunCountsButWritesNothing) {
  ImportReport r = run(demo_csv(), {.dry_run = true});
  ASSERT_TRUE(r.problems.empty()) << describe(r);
  EXPECT_FALSE(r.applied);
  EXPECT_EQ(r.persons_created, 200);
  EXPECT_EQ(r.households_created, 60);
  EXPECT_EQ(r.org_units_created, 8);
  EXPECT_EQ(persons(), 0);
  EXPECT_EQ(households(), 0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM core_org_units"), 0);

  ASSERT_TRUE(run(demo_csv()).applied);
  r = run(demo_csv(), {.dry_run = true});
  EXPECT_EQ(r.persons_created, 0);
  EXPECT_EQ(r.persons_updated, 200);
  EXPECT_EQ(r.households_updated, 60);
  EXPECT_EQ(r.org_units_created, 0);
}

TEST_F(PeopleImportTest, ReimportIsIdempotent) {
  ASSERT_TRUE(run(demo_csv()).applied);
  const auto first = dump();
  const ImportReport r = run(demo_csv());
  ASSERT_TRUE(r.problems.empty()) << describe(r);
  EXPECT_FALSE(r.applied);  // nothing differed, so nothing was written
  EXPECT_EQ(r.persons_created, 0);
  EXPECT_EQ(r.households_created, 0);
  EXPECT_EQ(r.org_units_created, 0);
  EXPECT_EQ(r.persons_updated, 200);
  EXPECT_EQ(r.households_updated, 60);
  EXPECT_EQ(dump(), first);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM core_identities"),
            scalar("SELECT COUNT(DISTINCT kind || external_id) FROM core_identities"));
}

TEST_F(PeopleImportTest, UpdatesReplaceWhatTheFileSaysAndKeepWhatItOmits) {
  ASSERT_TRUE(run(std::string(kHeader) + "H001,吴一,吴一,13800000201,一组,党员、志愿者,wuyi,,,,,,一组\n"
                                         "H002,吴二,吴二,13800000202,二组,中心户长,,,,,,,\n"
                                         "H003,吴三,吴三,13800000203,二组,,,,,,,H002,\n")
                  .applied);
  // Moves 吴一 to 二组 with new roles and no WeCom; 吴三 is unlinked; 一组 is given to 吴三.
  ImportReport r = run(std::string(kHeader) +
                       "H001,吴一,吴一改,13800000201,二组,村干部,,,,,en,,\n"
                       "H003,吴三,吴三,13800000203,二组,,,,,,,,一组\n");
  ASSERT_TRUE(r.applied) << describe(r);
  EXPECT_EQ(text("SELECT name FROM core_persons WHERE phone = '+8613800000201'"), "吴一改");
  EXPECT_EQ(text("SELECT lang FROM core_persons WHERE phone = '+8613800000201'"), "en");
  EXPECT_EQ(roles_of("+8613800000201"), (std::set<std::string>{"villager", "cadre"}));
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM core_identities"), 0);
  EXPECT_EQ(text("SELECT u.path FROM core_persons p JOIN core_org_units u ON u.id = p.org_unit_id "
                 "WHERE p.phone = '+8613800000201'"),
            "二组");
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM core_households WHERE code = 'H003' AND central_household_id IS NULL"), 1);
  EXPECT_EQ(text("SELECT p.phone FROM core_org_units u JOIN core_persons p ON p.id = u.responsible_person_id "
                 "WHERE u.path = '一组'"),
            "+8613800000203");

  // Only 户号, 姓名 and 手机: roles, language and group are left alone.
  r = run("户号,姓名,手机\nH001,吴一,13800000201\n");
  ASSERT_TRUE(r.applied) << describe(r);
  EXPECT_EQ(text("SELECT name FROM core_persons WHERE phone = '+8613800000201'"), "吴一");
  EXPECT_EQ(roles_of("+8613800000201"), (std::set<std::string>{"villager", "cadre"}));
  EXPECT_EQ(text("SELECT lang FROM core_persons WHERE phone = '+8613800000201'"), "en");
  EXPECT_EQ(text("SELECT u.path FROM core_households h JOIN core_org_units u ON u.id = h.org_unit_id "
                 "WHERE h.code = 'H001'"),
            "二组");
}

TEST_F(PeopleImportTest, CentralHouseholdMayBeInTheDatabase) {
  ASSERT_TRUE(run(std::string(kHeader) + "H100,郑一,郑一,13800000201,,中心户长\n").applied);
  const ImportReport r = run(std::string(kHeader) + "H101,郑二,郑二,13800000202,,,,,,,,H100\n");
  ASSERT_TRUE(r.applied) << describe(r);
  EXPECT_EQ(text("SELECT c.code FROM core_households h JOIN core_households c ON c.id = h.central_household_id "
                 "WHERE h.code = 'H101'"),
            "H100");
}

TEST_F(PeopleImportTest, ChatIdentitiesBelongToOnePerson) {
  ASSERT_TRUE(run(std::string(kHeader) + "H001,冯一,冯一,13800000201,,,fengyi\n"
                                         "H002,冯二,冯二,13800000202,,,fenger\n")
                  .applied);
  // Taking 冯一's WeCom for someone else, while 冯一 keeps it, is refused...
  ImportReport r = run(std::string(kHeader) + "H003,冯三,冯三,13800000203,,,fengyi\n");
  EXPECT_TRUE(has_problem(r, 2, "企业微信", "138****0201")) << describe(r);
  EXPECT_FALSE(r.applied);
  // ...but moving it, with 冯一 in the same file giving it up, is fine.
  r = run(std::string(kHeader) + "H003,冯三,冯三,13800000203,,,fengyi\nH001,冯一,冯一,13800000201,,,\n");
  ASSERT_TRUE(r.applied) << describe(r);
  EXPECT_EQ(text("SELECT p.phone FROM core_identities i JOIN core_persons p ON p.id = i.person_id "
                 "WHERE i.kind = 'wecom' AND i.external_id = 'fengyi'"),
            "+8613800000203");
  // Two people swapping accounts in one file.
  r = run(std::string(kHeader) + "H002,冯二,冯二,13800000202,,,fengyi\nH003,冯三,冯三,13800000203,,,fenger\n");
  ASSERT_TRUE(r.applied) << describe(r);
  EXPECT_EQ(text("SELECT p.phone FROM core_identities i JOIN core_persons p ON p.id = i.person_id "
                 "WHERE i.kind = 'wecom' AND i.external_id = 'fengyi'"),
            "+8613800000202");
  EXPECT_EQ(text("SELECT p.phone FROM core_identities i JOIN core_persons p ON p.id = i.person_id "
                 "WHERE i.kind = 'wecom' AND i.external_id = 'fenger'"),
            "+8613800000203");
  r = run(std::string(kHeader) + "H004,冯四,冯四,13800000204,,,x\nH005,冯五,冯五,13800000205,,,x\n");
  EXPECT_TRUE(has_problem(r, 3, "企业微信", "line 2")) << describe(r);
}

// ---- CSV shapes -------------------------------------------------------------------

TEST_F(PeopleImportTest, QuotedFieldsKeepCommasQuotesAndLineBreaks) {
  const std::string csv = std::string(kHeader) +
                          "H001,\"Smith, John\",\"Smith, John\",13800000201,一组,\"党员\n志愿者\"\r\n"
                          "H001,\"Smith, John\",\"Mary \"\"Molly\"\" Smith\",13800000202,一组,\"村民，评议员\"\r\n"
                          "H002,陈,陈一,13800000203,一组,\"志愿者|\n\n应急队员\",,,,,,,\"一组、\n一组/东院\"\r\n"
                          "H002,陈,陈二,12345,一组\r\n";
  ImportReport r = run(csv);
  // The bad row starts on physical line 9: the quoted line breaks count.
  EXPECT_TRUE(has_problem(r, 9, "手机")) << describe(r);
  EXPECT_EQ(r.problems.size(), 1u) << describe(r);
  EXPECT_EQ(r.rows, 4);

  r = run(csv.substr(0, csv.rfind("H002,陈,陈二")));
  ASSERT_TRUE(r.applied) << describe(r);
  EXPECT_EQ(text("SELECT name FROM core_persons WHERE phone = '+8613800000201'"), "Smith, John");
  EXPECT_EQ(text("SELECT head_name FROM core_households WHERE code = 'H001'"), "Smith, John");
  EXPECT_EQ(text("SELECT name FROM core_persons WHERE phone = '+8613800000202'"), "Mary \"Molly\" Smith");
  EXPECT_EQ(roles_of("+8613800000201"), (std::set<std::string>{"villager", "party_member", "volunteer"}));
  EXPECT_EQ(roles_of("+8613800000202"), (std::set<std::string>{"villager", "evaluator"}));
  EXPECT_EQ(roles_of("+8613800000203"), (std::set<std::string>{"villager", "volunteer", "emergency_team"}));
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM core_org_units u JOIN core_persons p ON p.id = u.responsible_person_id "
                   "WHERE p.phone = '+8613800000203'"),
            2);
}

TEST_F(PeopleImportTest, EnglishHeadersWork) {
  const ImportReport r =
      run(" Household ,HEAD,Name,phone,Group,Roles,WeCom_ID,dingtalk_id,feishu_id,Telegram_ID,LANG,Central_Household,"
          "Responsible_For\n"
          "H001,Li Lei,Li Lei,+86 138-0000-0201,Group 1/North yard,cadre|party_member,lilei,ding1,ou_1,42,English,,*\n"
          "H002,Han Meimei,Han Meimei,008613800000202,Group 1,Central_Household_Head;volunteer,,,,,zh,,\n"
          "H003,Jim,Jim,8613800000203,Group 1,,,,,,en,H002,\n");
  ASSERT_TRUE(r.applied) << describe(r);
  EXPECT_EQ(persons(), 3);
  EXPECT_EQ(roles_of("+8613800000201"), (std::set<std::string>{"villager", "cadre", "party_member"}));
  EXPECT_EQ(roles_of("+8613800000202"), (std::set<std::string>{"villager", "central_household_head", "volunteer"}));
  EXPECT_EQ(text("SELECT lang FROM core_persons WHERE phone = '+8613800000201'"), "en");
  EXPECT_EQ(text("SELECT lang FROM core_persons WHERE phone = '+8613800000202'"), "zh-CN");
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM core_identities"), 4);
  EXPECT_EQ(text("SELECT p.phone FROM core_org_units u JOIN core_persons p ON p.id = u.responsible_person_id "
                 "WHERE u.path = ''"),
            "+8613800000201");
  EXPECT_EQ(text("SELECT name FROM core_org_units WHERE path = ''"), "本村");
  EXPECT_EQ(text("SELECT u.path FROM core_persons p JOIN core_org_units u ON u.id = p.org_unit_id "
                 "WHERE p.phone = '+8613800000201'"),
            "Group 1/North yard");
}

TEST_F(PeopleImportTest, ColumnsAfterPhoneMayBeAbsent) {
  const ImportReport r = run("手机,姓名,户号\r\n13800000201,蒋一,H001\r\n13800000202,蒋二,H001\r\n\r\n");
  ASSERT_TRUE(r.applied) << describe(r);
  EXPECT_EQ(r.rows, 2);
  EXPECT_EQ(roles_of("+8613800000202"), std::set<std::string>{"villager"});
  EXPECT_EQ(text("SELECT u.path FROM core_persons p JOIN core_org_units u ON u.id = p.org_unit_id "
                 "WHERE p.phone = '+8613800000202'"),
            "");
}

TEST_F(PeopleImportTest, SkipBadAppliesTheGoodRowsOnly) {
  const std::string csv = std::string(kHeader) +
                          "H001,沈一,沈一,13800000201,一组,党员\n"
                          "H001,沈一,沈二,not-a-phone,一组\n"
                          "H002,沈三,沈三,13800000203,一组,村长\n"
                          "H003,沈四,沈四,13800000204,二组\n"
                          "H004,沈五,沈五,13800000205,二组,,,,,,,H002\n";  // its central household is skipped
  ImportReport r = run(csv);
  EXPECT_FALSE(r.applied);
  EXPECT_EQ(persons(), 0);

  r = run(csv, {.skip_bad = true});
  ASSERT_TRUE(r.applied) << describe(r);
  EXPECT_TRUE(has_problem(r, 3, "手机")) << describe(r);
  EXPECT_TRUE(has_problem(r, 4, "角色")) << describe(r);
  EXPECT_TRUE(has_problem(r, 6, "中心户", "H002")) << describe(r);
  EXPECT_EQ(r.problems.size(), 3u) << describe(r);
  EXPECT_EQ(r.persons_created, 2);
  EXPECT_EQ(r.households_created, 2);
  EXPECT_EQ(persons(), 2);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM core_persons WHERE phone IN ('+8613800000201', '+8613800000204')"), 2);
  EXPECT_EQ(households(), 2);
}

TEST_F(PeopleImportTest, SqlLookingTextIsStoredVerbatim) {
  const std::string evil = "Robert'); DROP TABLE core_persons;--";
  const ImportReport r = run(std::string(kHeader) + "\"H1' OR '1'='1\",\"" + evil + "\",\"" + evil +
                             "\",13800000201,\"一组'; DELETE FROM core_org_units;--\",,\"x'--\"\n");
  ASSERT_TRUE(r.applied) << describe(r);
  EXPECT_EQ(text("SELECT name FROM core_persons WHERE phone = '+8613800000201'"), evil);
  EXPECT_EQ(text("SELECT head_name FROM core_households"), evil);
  EXPECT_EQ(text("SELECT code FROM core_households"), "H1' OR '1'='1");
  EXPECT_EQ(text("SELECT external_id FROM core_identities"), "x'--");
  EXPECT_EQ(text("SELECT path FROM core_org_units WHERE parent_id IS NOT NULL"),
            "一组'; DELETE FROM core_org_units;--");
}

TEST_F(PeopleImportTest, LargeFileIsOneTransaction) {
  std::string csv(kHeader);
  constexpr int kRows = 20000;
  for (int i = 0; i < kRows; ++i) {
    const std::string n = std::to_string(i);
    csv += "H" + std::to_string(i / 4) + ",户主" + std::to_string(i / 4) + ",村民" + n + "," +
           std::to_string(13900000000LL + i) + (i / 4 % 2 ? ",一组" : ",二组/南院") + ",志愿者,wx" + n + ",,,,,,\n";
  }
  const auto commits_before = storage_->commits();
  const auto start = std::chrono::steady_clock::now();
  const ImportReport r = run(csv);
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r.applied) << describe(r);
  EXPECT_EQ(persons(), kRows);
  EXPECT_EQ(storage_->commits() - commits_before, 1u);
  std::cout << "imported " << kRows << " rows in " << seconds << " s\n";
}

// ---- hostile input ---------------------------------------------------------------

TEST_F(PeopleImportTest, HostileFilesGiveProblemsNotCrashes) {
  // An unterminated quote swallows the rest of the file: refused, at the record's line.
  ImportReport r = run(std::string(kHeader) + "H001,a,a,13800000201\nH002,\"b,b,13800000202\nH003,c,c,13800000203\n");
  EXPECT_TRUE(has_problem(r, 3, "", "unterminated")) << describe(r);
  EXPECT_FALSE(r.applied);
  r = run(std::string(kHeader) + "H001,a,a,13800000201\n", {.skip_bad = true});  // skip_bad cannot fix a broken file
  EXPECT_TRUE(r.applied);
  r = run(std::string(kHeader) + "H002,\"b", {.skip_bad = true});
  EXPECT_FALSE(r.applied);

  // 10,000 columns in the header, and in a row.
  std::string wide;
  for (int i = 0; i < 10000; ++i) wide += "c" + std::to_string(i) + ",";
  r = run(wide + "\n");
  EXPECT_TRUE(has_problem(r, 1, "", "too many columns")) << describe(r);
  r = run("户号,姓名,手机\nH001,a,13800000202," + wide + "\n");
  EXPECT_TRUE(has_problem(r, 2, "", "more fields")) << describe(r);

  // NUL bytes and other control characters in cells.
  r = run(std::string(kHeader) + "H001,a,a\0b,13800000202\n"s);
  EXPECT_TRUE(has_problem(r, 2, "姓名", "control")) << describe(r);
  r = run("\0\0\0\0"s);
  EXPECT_FALSE(r.applied);
  EXPECT_FALSE(r.problems.empty());

  // Neither UTF-8 nor GBK: reported at the line of the first bad byte.
  r = run(std::string(kHeader) + "H001,a,a,13800000202\nH002,\xFF\xFF,b,13800000203\n");
  EXPECT_TRUE(has_problem(r, 3, "", "neither UTF-8 nor GBK")) << describe(r);
  r = run("");
  EXPECT_TRUE(has_problem(r, 1, "", "empty")) << describe(r);
  r = run("\n\n,,,\n");
  EXPECT_TRUE(has_problem(r, 1, "", "empty")) << describe(r);

  // A huge cell, and many bad rows: the report stays bounded.
  r = run(std::string(kHeader) + "H001,a," + std::string(100000, 'x') + ",13800000202\n");
  EXPECT_TRUE(has_problem(r, 2, "姓名", "too long")) << describe(r);
  r = run(std::string(kHeader) + "H001,a,a,13800000202,," + std::string(100000, 'z') + "\n");
  ASSERT_TRUE(has_problem(r, 2, "角色", "unknown role")) << describe(r);
  EXPECT_LT(r.problems[0].reason.size(), 200u);
  std::string many(kHeader);
  for (int i = 0; i < 5000; ++i) many += "H1,a,a,1\n";
  r = run(many);
  EXPECT_LE(r.problems.size(), 1001u);
  EXPECT_NE(r.problems.back().reason.find("more problems"), std::string::npos);
  EXPECT_EQ(persons(), 1);  // the one good file above

  // More rows than any register has: refused before anything is built for them.
  std::string tall(kHeader);
  for (int i = 0; i < 300001; ++i) tall += "a\n";
  r = run(tall);
  EXPECT_TRUE(has_problem(r, 300001, "", "too many rows")) << describe(r);

  // Random bytes, seeded: whatever happens, nothing throws and nothing is half-written.
  std::mt19937 rng(7);
  const std::string alphabet = std::string(kHeader) + "\",\r\n\0\xFF\xE5\x8F\xB7;|、13800000201"s;
  for (int round = 0; round < 300; ++round) {
    std::string junk;
    const int len = static_cast<int>(rng() % 400);
    for (int i = 0; i < len; ++i) junk += alphabet[rng() % alphabet.size()];
    EXPECT_NO_THROW(r = run(junk));
    if (!r.applied) {
      EXPECT_FALSE(r.problems.empty() && r.rows > 0) << describe(r);
    }
  }
}

}  // namespace
}  // namespace villagebot::directory
