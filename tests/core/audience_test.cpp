// Audience resolution against a real SQLite directory (SqliteDirectory::resolve).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "directory/people_import.hpp"
#include "directory/sqlite_directory.hpp"
#include "storage/core_schema.hpp"
#include "storage/sqlite_storage.hpp"

namespace villagebot::directory {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// 一组 (东院, 西院) and 二组; H001 is a central household linked by H002 and H003.
constexpr const char* kVillage =
    "户号,户主,姓名,手机,村民小组,角色,企业微信,钉钉,飞书,telegram,语言,中心户,负责\n"
    "H001,张一,张一,13800000001,一组/东院,中心户长、党员,,,,,,,\n"
    "H001,张一,张二,13800000002,一组/东院,,,,,,,,\n"
    "H002,李一,李一,13800000003,一组/西院,村干部,,,,,,H001,一组\n"
    "H003,王一,王一,13800000004,二组,党员,,,,,,H001,\n"
    "H004,赵一,赵一,13800000005,二组,应急队员,,,,,,,\n"
    "H005,钱一,钱一,13800000006,,管理员,,,,,,,\n";

class AudienceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (fs::temp_directory_path() /
             ("villagebot-audience-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
              "-" + std::to_string(::getpid()) + ".db"))
                .string();
    storage_ = std::make_unique<storage::SqliteStorage>(path_, storage::SqliteOptions{.synchronous_full = false});
    storage_->migrate("core", storage::core_migrations());
    const auto report = import_people(*storage_, kVillage, {});
    ASSERT_TRUE(report.applied) << (report.problems.empty() ? "" : report.problems[0].reason);
    dir_ = std::make_unique<SqliteDirectory>(*storage_);
  }
  void TearDown() override {
    dir_.reset();
    storage_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path_ + suffix);
  }
  // Phones' last digit of the resolved persons, ascending by id (= file order).
  std::vector<int> who(const Audience& a) {
    std::vector<int> out;
    for (const auto& p : dir_->persons(dir_->resolve(a))) out.push_back(p.phone.back() - '0');
    return out;
  }
  std::int64_t unit(const char* path) { return dir_->org_unit_by_path(path)->id; }
  std::int64_t household(const char* code) { return dir_->household_by_code(code)->id; }

  std::string path_;
  std::unique_ptr<storage::SqliteStorage> storage_;
  std::unique_ptr<SqliteDirectory> dir_;
};

TEST_F(AudienceTest, AUnitMeansItsWholeSubtree) {
  EXPECT_THAT(who({.org_units = {unit("一组")}}), ElementsAre(1, 2, 3));
  EXPECT_THAT(who({.org_units = {unit("一组/东院")}}), ElementsAre(1, 2));
  EXPECT_THAT(who({.org_units = {unit("")}}), ElementsAre(1, 2, 3, 4, 5, 6));
}

TEST_F(AudienceTest, RolesHouseholdsPersonsAndEveryoneUnite) {
  EXPECT_THAT(who({.roles = {"party_member"}}), ElementsAre(1, 4));
  EXPECT_THAT(who({.households = {household("H001")}}), ElementsAre(1, 2));
  EXPECT_THAT(who({.org_units = {unit("二组")}, .roles = {"cadre"}}), ElementsAre(3, 4, 5));
  EXPECT_THAT(who({.everyone = true}), ElementsAre(1, 2, 3, 4, 5, 6));
  EXPECT_THAT(who({}), IsEmpty());  // nothing asked, nobody: never "everyone" by accident
}

TEST_F(AudienceTest, CentralHouseholdReachesItsLinkedHouseholds) {
  EXPECT_THAT(who({.central_households = {household("H001")}}), ElementsAre(1, 2, 3, 4));
}

TEST_F(AudienceTest, OnlyRolesFiltersAndExclusionsSubtract) {
  EXPECT_THAT(who({.everyone = true, .only_roles = {"party_member"}}), ElementsAre(1, 4));
  EXPECT_THAT(who({.org_units = {unit("")}, .exclude_org_units = {unit("一组")}}), ElementsAre(4, 5, 6));
  EXPECT_THAT(who({.everyone = true, .exclude_roles = {"admin", "cadre"}}), ElementsAre(1, 2, 4, 5));
  EXPECT_THAT(who({.everyone = true, .exclude_households = {household("H001")}}), ElementsAre(3, 4, 5, 6));
  const auto first = dir_->find_by_phone("13800000001")->id;
  EXPECT_THAT(who({.households = {household("H001")}, .exclude_persons = {first}}), ElementsAre(2));
}

TEST_F(AudienceTest, APersonWithoutUnitIsNotLostByAnExclusion) {
  storage_->write(
      [](Session& s) { s.execute("UPDATE core_persons SET org_unit_id = NULL WHERE phone = '+8613800000006'"); });
  EXPECT_THAT(who({.everyone = true, .exclude_org_units = {unit("二组")}}), ElementsAre(1, 2, 3, 6));
}

TEST_F(AudienceTest, JsonRoundTripAndRefusals) {
  Audience a{.org_units = {3}, .roles = {"cadre"}, .only_roles = {"party_member"}, .exclude_persons = {9}};
  const Audience back = audience_from_json(audience_to_json(a));
  EXPECT_EQ(audience_to_json(back), audience_to_json(a));
  EXPECT_THROW(audience_from_json(nlohmann::json::parse(R"({"org_unit":[1]})")), std::invalid_argument);
  EXPECT_THROW(audience_from_json(nlohmann::json::parse(R"({"persons":[-1]})")), std::invalid_argument);
  EXPECT_THROW(audience_from_json(nlohmann::json::parse(R"({"roles":"cadre"})")), std::invalid_argument);
  EXPECT_THROW(audience_from_json(nlohmann::json::parse(R"({"exclude":{"x":[]}})")), std::invalid_argument);
}

TEST_F(AudienceTest, PersonsComeBackInTheOrderAskedAndUnknownIdsAreSkipped) {
  const auto ids = dir_->resolve({.everyone = true});
  ASSERT_EQ(ids.size(), 6u);
  const auto people = dir_->persons({ids[2], 999999, ids[0]});
  ASSERT_EQ(people.size(), 2u);
  EXPECT_EQ(people[0].id, ids[2]);
  EXPECT_EQ(people[1].id, ids[0]);
  EXPECT_THAT(people[0].roles, ElementsAre("cadre", "villager"));
}

TEST_F(AudienceTest, ResponsibilityAndHouseholdLookups) {
  const auto cadre = dir_->find_by_phone("13800000003");
  ASSERT_TRUE(cadre);
  const auto units = dir_->units_responsible_for(cadre->id);
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].path, "一组");
  const auto h2 = dir_->household_by_code("H002");
  ASSERT_TRUE(h2);
  EXPECT_EQ(h2->central_household_id, household("H001"));
  EXPECT_EQ(dir_->household(h2->id)->head_name, "李一");
  EXPECT_FALSE(dir_->household_by_code("H999"));
}

// Households by id are cached like senders: a change made behind the directory's back (the CLI,
// another process) shows within the cache's lifetime, one made through this process at once.
TEST_F(AudienceTest, AHouseholdChangedElsewhereShowsAfterTheCacheAndAtOnceAfterInvalidate) {
  const auto id = household("H002");
  ASSERT_EQ(dir_->household(id)->head_name, "李一");
  storage_->write([id](Session& s) { s.execute("UPDATE core_households SET head_name = '李二' WHERE id = ?", {id}); });
  EXPECT_EQ(dir_->household(id)->head_name, "李一") << "served from the cache";
  dir_->invalidate();  // what the admin API and an import through the server do
  EXPECT_EQ(dir_->household(id)->head_name, "李二");
  storage_->write([id](Session& s) { s.execute("UPDATE core_households SET head_name = '李三' WHERE id = ?", {id}); });
  std::this_thread::sleep_for(SqliteDirectory::kCacheTtl + std::chrono::milliseconds(100));
  EXPECT_EQ(dir_->household(id)->head_name, "李三") << "an outside change shows after the cache's lifetime";
}

}  // namespace
}  // namespace villagebot::directory
