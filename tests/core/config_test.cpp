#include "config/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

namespace villagebot::config {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

Config load_text(const std::string& text) {
  return load_string(text, "test.toml");
}

std::string all_errors(const Config& c) {
  std::string out;
  for (const auto& e : *c.errors) out += e + "\n";
  return out;
}

// Sets an environment variable for one test and restores the previous state.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = std::string(old);
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// ---- A valid config ---------------------------------------------------------

TEST(Config, ProductBriefExampleLoadsWithoutErrors) {
  ScopedEnv secret("VB_CFG_TEST_GENERIC_SECRET", "s3cr3t-值");
  Config cfg = load_text(R"([village]
name = "幸福村"
timezone = "Asia/Shanghai"

[server]
listen = "127.0.0.1:8080"
threads = 2

[storage]
path = "data/villagebot.db"

[pipeline]
rate_limit_messages = 5
rate_limit_window_s = 30
bot_names = ["村小助手"]

[plugins]
dir = "build/plugins"
enabled = ["points", "announcements", "opinions", "volunteers", "emergency"]

[[adapters]]
id = "generic"
type = "generic-webhook"
secret = "${VB_CFG_TEST_GENERIC_SECRET}"
)");
  ASSERT_TRUE(cfg.ok()) << all_errors(cfg);
  EXPECT_EQ(cfg.file, "test.toml");
  EXPECT_EQ(cfg.village_name, "幸福村");
  EXPECT_EQ(cfg.server.host, "127.0.0.1");
  EXPECT_EQ(cfg.server.port, 8080);
  EXPECT_EQ(cfg.server.threads, 2);
  EXPECT_EQ(cfg.storage.path, "data/villagebot.db");
  EXPECT_TRUE(cfg.storage.synchronous_full);
  EXPECT_EQ(cfg.pipeline.rate_limit_messages, 5);
  EXPECT_EQ(cfg.pipeline.rate_limit_window, std::chrono::seconds(30));
  EXPECT_THAT(cfg.pipeline.bot_names, ElementsAre("村小助手"));
  EXPECT_EQ(cfg.plugin_dir, "build/plugins");
  EXPECT_THAT(cfg.plugins_enabled, ElementsAre("points", "announcements", "opinions", "volunteers", "emergency"));
  // Every enabled plugin gets a section, even without a [plugins.<name>] table.
  EXPECT_THAT(cfg.plugin_sections, SizeIs(5));
  ASSERT_TRUE(cfg.plugin_sections.contains("emergency"));
  EXPECT_EQ(cfg.plugin_sections.at("emergency")->path(), "plugins.emergency");

  ASSERT_THAT(cfg.adapters, SizeIs(1));
  const AdapterEntry& a = cfg.adapters[0];
  EXPECT_EQ(a.id, "generic");
  EXPECT_EQ(a.type, "generic-webhook");
  EXPECT_EQ(a.line, 21);  // the [[adapters]] header
  // The adapter module reads its own keys; the secret came from the environment.
  EXPECT_EQ(a.section->string("secret"), "s3cr3t-值");
  finish_section(*a.section);
  EXPECT_TRUE(cfg.ok()) << all_errors(cfg);
}

TEST(Config, DefaultsApplyWhenSectionsAreAbsent) {
  Config cfg = load_text("");
  ASSERT_TRUE(cfg.ok()) << all_errors(cfg);
  EXPECT_EQ(cfg.server.host, "127.0.0.1");
  EXPECT_EQ(cfg.server.port, 8080);
  EXPECT_EQ(cfg.storage.path, "data/villagebot.db");
  EXPECT_EQ(cfg.pipeline.rate_limit_messages, 10);
  EXPECT_THAT(cfg.plugins_enabled, IsEmpty());
  EXPECT_THAT(cfg.adapters, IsEmpty());
}

TEST(Config, LoadReadsAFileAndNamesItInErrors) {
  const auto path =
      std::filesystem::temp_directory_path() / ("villagebot-config-test-" + std::to_string(::getpid()) + ".toml");
  {
    std::ofstream out(path);
    out << "[server]\nlisten = \"0.0.0.0:9090\"\nthreads = 100\n";
  }
  Config cfg = load(path.string());
  std::filesystem::remove(path);
  EXPECT_EQ(cfg.server.host, "0.0.0.0");
  EXPECT_EQ(cfg.server.port, 9090);
  ASSERT_THAT(*cfg.errors, SizeIs(1)) << all_errors(cfg);
  EXPECT_EQ((*cfg.errors)[0], path.string() + ":3: key 'server.threads': must be between 1 and 64, not 100");
}

TEST(Config, MissingFileIsAnErrorNamingTheFile) {
  Config cfg = load("/nonexistent/villagebot/nowhere.toml");
  ASSERT_FALSE(cfg.ok());
  EXPECT_THAT(*cfg.errors, ElementsAre(StartsWith("/nonexistent/villagebot/nowhere.toml: cannot read")));
}

// ---- Bad values name file, line and key -------------------------------------

struct BadValue {
  const char* toml;
  const char* expected;  // the whole error up to the message, plus a telling part of it
};

TEST(Config, EachBadValueIsReportedWithFileLineAndKey) {
  const BadValue cases[] = {
      {"[server]\nlisten = \"localhost\"\n", "test.toml:2: key 'server.listen': must be host:port"},
      {"[server]\nlisten = \"127.0.0.1:70000\"\n", "test.toml:2: key 'server.listen': must be host:port"},
      {"[server]\nlisten = \":8080\"\n", "test.toml:2: key 'server.listen': must be host:port"},
      {"[server]\nlisten = \"127.0.0.1:\"\n", "test.toml:2: key 'server.listen': must be host:port"},
      {"[server]\nlisten = \"127.0.0.1:80a\"\n", "test.toml:2: key 'server.listen': must be host:port"},
      {"[server]\nlisten = 8080\n", "test.toml:2: key 'server.listen': must be a string"},
      {"[server]\nlisten = \"127.0.0.1:8080\"\n\nthreads = 0\n",
       "test.toml:4: key 'server.threads': must be between 1 and 64, not 0"},
      {"[server]\nthreads = \"2\"\n", "test.toml:2: key 'server.threads': must be an integer"},
      {"[server]\nthreads = 2.5\n", "test.toml:2: key 'server.threads': must be an integer"},
      {"\n\n[logging]\nlevel = \"verbose\"\n", "test.toml:4: key 'logging.level': must be one of"},
      {"[storage]\npath = \"\"\n", "test.toml:2: key 'storage.path': must not be empty"},
      {"[storage]\npath = \"x.db\"\nsynchronous = \"off\"\n",
       "test.toml:3: key 'storage.synchronous': must be \"full\""},
      {"[pipeline]\nbot_names = \"村小助手\"\n", "test.toml:2: key 'pipeline.bot_names': must be a list of strings"},
      {"[pipeline]\nbot_names = [\"a\", 2]\n", "test.toml:2: key 'pipeline.bot_names': must be a list of strings"},
      {"[pipeline]\nworkers = 4\nrate_limit_window_s = 0\n",
       "test.toml:3: key 'pipeline.rate_limit_window_s': must be between 1 and 86400, not 0"},
      {"[pipeline]\nrate_limit_messages = -1\n",
       "test.toml:2: key 'pipeline.rate_limit_messages': must be between 0 and 100000, not -1"},
      {"[village]\nname = 3\n", "test.toml:2: key 'village.name': must be a string"},
      {"village = \"幸福村\"\n", "test.toml:1: key 'village': must be a table"},
      {"plugins = \"points\"\n", "test.toml:1: key 'plugins': must be a table"},
      {"[plugins]\nenabled = \"points\"\n", "test.toml:2: key 'plugins.enabled': must be a list of strings"},
      {"[plugins]\nenabled = [\"points\", \"points\"]\n",
       "test.toml:2: key 'plugins.enabled': names plugin 'points' twice"},
      {"[plugins]\ndir = \"p\"\ndirr = \"q\"\n", "test.toml:3: key 'plugins.dirr': must be a table"},
      {"[adapters]\nid = \"generic\"\n", "test.toml:1: key 'adapters': must be written as [[adapters]] tables"},
      {"[[adapters]]\nid = \"generic\"\n", "test.toml:1: key 'adapters[0].type': is required"},
      {"[[adapters]]\ntype = \"generic-webhook\"\n", "test.toml:1: key 'adapters[0].id': is required"},
      {"[[adapters]]\nid = \"Generic\"\ntype = \"generic-webhook\"\n",
       "test.toml:2: key 'adapters[0].id': must be lower-case letters"},
      {"[[adapters]]\nid = \"a/b\"\ntype = \"generic-webhook\"\n",
       "test.toml:2: key 'adapters[0].id': must be lower-case"},
      {"[[adapters]]\nid = \"generic\"\ntype = 7\n", "test.toml:3: key 'adapters[0].type': must be a string"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.toml);
    Config cfg = load_text(c.toml);
    EXPECT_FALSE(cfg.ok());
    EXPECT_THAT(*cfg.errors, Contains(StartsWith(c.expected))) << all_errors(cfg);
  }
}

TEST(Config, ABadValueGivesExactlyOneError) {
  Config cfg = load_text("[server]\nlisten = \"127.0.0.1:8080\"\nthreads = 65\n[storage]\npath = \"x.db\"\n");
  EXPECT_THAT(*cfg.errors, ElementsAre("test.toml:3: key 'server.threads': must be between 1 and 64, not 65"));
  // A rejected value leaves the default in place rather than a half-parsed one.
  EXPECT_EQ(cfg.server.threads, 2);
}

TEST(Config, EveryBadValueOfOneFileIsReported) {
  Config cfg =
      load_text("[server]\nthreads = 0\n[storage]\nsynchronous = \"sometimes\"\n[logging]\nlevel = \"loud\"\n");
  EXPECT_THAT(*cfg.errors, SizeIs(3)) << all_errors(cfg);
  EXPECT_THAT(*cfg.errors, Contains(StartsWith("test.toml:2: key 'server.threads'")));
  EXPECT_THAT(*cfg.errors, Contains(StartsWith("test.toml:4: key 'storage.synchronous'")));
  EXPECT_THAT(*cfg.errors, Contains(StartsWith("test.toml:6: key 'logging.level'")));
}

TEST(Config, ListenAcceptsIpv6AndPortZero) {
  Config v6 = load_text("[server]\nlisten = \"[::1]:9000\"\n");
  ASSERT_TRUE(v6.ok()) << all_errors(v6);
  EXPECT_EQ(v6.server.host, "::1");
  EXPECT_EQ(v6.server.port, 9000);

  Config any = load_text("[server]\nlisten = \"0.0.0.0:0\"\n");
  ASSERT_TRUE(any.ok()) << all_errors(any);
  EXPECT_EQ(any.server.host, "0.0.0.0");
  EXPECT_EQ(any.server.port, 0);

  Config top = load_text("[server]\nlisten = \"localhost:65535\"\n");
  ASSERT_TRUE(top.ok()) << all_errors(top);
  EXPECT_EQ(top.server.port, 65535);
}

TEST(Config, StorageSynchronousNormalIsAccepted) {
  Config cfg = load_text("[storage]\npath = \"x.db\"\nsynchronous = \"normal\"\n");
  ASSERT_TRUE(cfg.ok()) << all_errors(cfg);
  EXPECT_FALSE(cfg.storage.synchronous_full);
}

// ---- Unknown keys -----------------------------------------------------------

TEST(Config, UnknownTopLevelKeyIsReported) {
  Config key = load_text("colour = \"red\"\n[server]\nthreads = 2\n");
  EXPECT_THAT(*key.errors, ElementsAre(StartsWith("test.toml:1: key 'colour': unknown key")));

  Config table = load_text("[server]\nthreads = 2\n\n[sever]\nthreads = 2\n");
  EXPECT_THAT(*table.errors, ElementsAre(StartsWith("test.toml:4: key 'sever': unknown key")));
}

TEST(Config, UnknownNestedKeyIsReportedWithItsFullName) {
  Config cfg =
      load_text("[server]\nlisten = \"127.0.0.1:8080\"\nthreds = 4\n[pipeline]\nworkers = 2\nrate_limit = 5\n");
  EXPECT_THAT(*cfg.errors, SizeIs(2)) << all_errors(cfg);
  EXPECT_THAT(*cfg.errors, Contains(StartsWith("test.toml:3: key 'server.threds': unknown key")));
  EXPECT_THAT(*cfg.errors, Contains(StartsWith("test.toml:6: key 'pipeline.rate_limit': unknown key")));
}

// ---- ${ENV} substitution ----------------------------------------------------

TEST(Config, UnsetEnvironmentVariableIsAnErrorNamingIt) {
  ScopedEnv unset("VB_CFG_TEST_MISSING_SECRET", nullptr);
  Config cfg = load_text(
      "[[adapters]]\nid = \"generic\"\ntype = \"generic-webhook\"\nsecret = \"${VB_CFG_TEST_MISSING_SECRET}\"\n");
  ASSERT_FALSE(cfg.ok());
  EXPECT_THAT(*cfg.errors, Contains(AllOf(StartsWith("test.toml:4: key 'adapters[0].secret': "),
                                          HasSubstr("environment variable VB_CFG_TEST_MISSING_SECRET is not set"))))
      << all_errors(cfg);
}

TEST(Config, DefaultIsUsedWhenTheVariableIsUnset) {
  ScopedEnv unset("VB_CFG_TEST_DATA_DIR", nullptr);
  Config cfg = load_text("[storage]\npath = \"${VB_CFG_TEST_DATA_DIR:-/var/lib/villagebot}/village.db\"\n");
  ASSERT_TRUE(cfg.ok()) << all_errors(cfg);
  EXPECT_EQ(cfg.storage.path, "/var/lib/villagebot/village.db");

  Config empty_default = load_text("[village]\nname = \"x${VB_CFG_TEST_DATA_DIR:-}y\"\n");
  ASSERT_TRUE(empty_default.ok()) << all_errors(empty_default);
  EXPECT_EQ(empty_default.village_name, "xy");
}

TEST(Config, SetVariablesAreSubstitutedEverywhere) {
  ScopedEnv dir("VB_CFG_TEST_DATA_DIR", "/srv/幸福村");
  ScopedEnv name("VB_CFG_TEST_BOT", "小助手");
  Config cfg = load_text(
      "[storage]\npath = \"${VB_CFG_TEST_DATA_DIR:-/ignored}/${VB_CFG_TEST_BOT}.db\"\n"
      "[pipeline]\nbot_names = [\"${VB_CFG_TEST_BOT}\", \"villagebot\"]\n");
  ASSERT_TRUE(cfg.ok()) << all_errors(cfg);
  EXPECT_EQ(cfg.storage.path, "/srv/幸福村/小助手.db");
  EXPECT_THAT(cfg.pipeline.bot_names, ElementsAre("小助手", "villagebot"));
}

TEST(Config, SubstitutedValuesAreNotExpandedAgain) {
  // A secret that happens to contain "${...}" is taken literally.
  ScopedEnv secret("VB_CFG_TEST_LITERAL", "a${VB_CFG_TEST_NOT_SET_EITHER}b");
  ScopedEnv unset("VB_CFG_TEST_NOT_SET_EITHER", nullptr);
  Config cfg = load_text("[village]\nname = \"${VB_CFG_TEST_LITERAL}\"\n");
  ASSERT_TRUE(cfg.ok()) << all_errors(cfg);
  EXPECT_EQ(cfg.village_name, "a${VB_CFG_TEST_NOT_SET_EITHER}b");
}

TEST(Config, MalformedPlaceholdersAreErrors) {
  Config bad_name = load_text("[village]\nname = \"${1NAME}\"\n");
  EXPECT_THAT(*bad_name.errors, Contains(AllOf(StartsWith("test.toml:2: key 'village.name': "),
                                               HasSubstr("not a valid environment variable"))));
  Config unterminated = load_text("\n[village]\nname = \"${NAME\"\n");
  EXPECT_THAT(*unterminated.errors,
              Contains(AllOf(StartsWith("test.toml:3: key 'village.name': "), HasSubstr("unterminated"))));
}

// ---- Adapters and plugins ---------------------------------------------------

TEST(Config, DuplicateAdapterIdIsReportedAtTheSecondEntry) {
  Config cfg = load_text(R"([[adapters]]
id = "generic"
type = "generic-webhook"

[[adapters]]
id = "generic"
type = "console"
)");
  EXPECT_THAT(*cfg.errors, ElementsAre("test.toml:6: key 'adapters[1].id': 'generic' is used twice"))
      << all_errors(cfg);
}

TEST(Config, AdapterEntriesKeepTheirOrderAndLines) {
  Config cfg = load_text(R"([[adapters]]
id = "sms"
type = "smpp"

[[adapters]]
id = "wecom_1"
type = "wecom"
)");
  ASSERT_TRUE(cfg.ok()) << all_errors(cfg);
  ASSERT_THAT(cfg.adapters, SizeIs(2));
  EXPECT_EQ(cfg.adapters[0].id, "sms");
  EXPECT_EQ(cfg.adapters[0].line, 1);
  EXPECT_EQ(cfg.adapters[1].id, "wecom_1");
  EXPECT_EQ(cfg.adapters[1].type, "wecom");
  EXPECT_EQ(cfg.adapters[1].line, 5);
  EXPECT_EQ(cfg.adapters[1].section->path(), "adapters[1]");
}

TEST(Config, UnknownAdapterKeyIsReportedOnlyWhenTheAdapterFinishedReading) {
  Config cfg = load_text("[[adapters]]\nid = \"generic\"\ntype = \"generic-webhook\"\nsecert = \"x\"\n");
  ASSERT_TRUE(cfg.ok()) << all_errors(cfg);  // the adapter module has not looked yet
  auto& section = *cfg.adapters.at(0).section;
  EXPECT_EQ(section.string("secret"), std::nullopt);
  finish_section(section);
  EXPECT_THAT(*cfg.errors, ElementsAre(StartsWith("test.toml:4: key 'adapters[0].secert': unknown key")));
}

TEST(Config, EnabledPluginNeedsNoSectionOfItsOwn) {
  // Most plugins run on their defaults: `enabled` alone must be a valid config.
  Config cfg = load_text("[plugins]\ndir = \"build/plugins\"\nenabled = [\"points\", \"opinions\"]\n");
  EXPECT_TRUE(cfg.ok()) << all_errors(cfg);
  ASSERT_TRUE(cfg.plugin_sections.contains("points"));
  ASSERT_TRUE(cfg.plugin_sections.contains("opinions"));
  EXPECT_FALSE(cfg.plugin_sections.at("points")->has("anything"));
}

TEST(Config, PluginSectionForANonEnabledPluginIsAnError) {
  Config cfg = load_text(R"([plugins]
enabled = ["points"]

[plugins.voting]
open = true

[plugins.points]
)");
  EXPECT_THAT(
      *cfg.errors,
      ElementsAre("test.toml:4: key 'plugins.voting': configures plugin 'voting', which is not in plugins.enabled"))
      << all_errors(cfg);
  EXPECT_FALSE(cfg.plugin_sections.contains("voting"));
  EXPECT_TRUE(cfg.plugin_sections.contains("points"));
}

TEST(Config, TomlSyntaxErrorReportsTheLine) {
  Config cfg = load_text("[server]\nlisten = \"127.0.0.1:8080\"\nthreads = = 2\n");
  ASSERT_THAT(*cfg.errors, SizeIs(1));
  EXPECT_THAT((*cfg.errors)[0], StartsWith("test.toml:3: "));

  Config unclosed = load_text("[village]\nname = \"幸福村\n[server]\n");
  ASSERT_THAT(*unclosed.errors, SizeIs(1));
  EXPECT_THAT((*unclosed.errors)[0], StartsWith("test.toml:2: "));
}

// ---- ConfigSection as a module sees it ----------------------------------------

constexpr const char* kPointsConfig = R"([plugins]
enabled = ["points"]

[plugins.points]
monthly_cap = 5000
rounding = "up"
categories = ["卫生", "治安"]
mixed = ["a", 1]
ratio = 2
ratio_f = 0.5
public = "yes"
enabled_flag = true

[[plugins.points.rules]]
name = "clean_yard"
score = 5

[[plugins.points.rules]]
name = "fire_drill"
score = 7
scroe = 8
)";

class PluginSection : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg = load_text(kPointsConfig);
    ASSERT_TRUE(cfg.ok()) << all_errors(cfg);
    ASSERT_TRUE(cfg.plugin_sections.contains("points"));
    section = cfg.plugin_sections.at("points").get();
  }
  Config cfg;
  ConfigSection* section = nullptr;
};

TEST_F(PluginSection, IntegerOutOfRangeNamesLineKeyAndRange) {
  EXPECT_EQ(section->integer("monthly_cap", 0, 1000), std::nullopt);
  EXPECT_THAT(*cfg.errors,
              ElementsAre("test.toml:5: key 'plugins.points.monthly_cap': must be between 0 and 1000, not 5000"));
  EXPECT_TRUE(section->has_errors());
  EXPECT_EQ(section->integer("monthly_cap", 0, 10000), 5000);
  EXPECT_EQ(section->integer_or("absent", 42, 0, 100), 42);
}

TEST_F(PluginSection, WrongTypesAreErrorsAndReturnNothing) {
  EXPECT_EQ(section->integer("rounding"), std::nullopt);
  EXPECT_EQ(section->string("monthly_cap"), std::nullopt);
  EXPECT_EQ(section->boolean("public"), std::nullopt);
  EXPECT_EQ(section->number("rounding"), std::nullopt);
  EXPECT_THAT(*cfg.errors, ElementsAre("test.toml:6: key 'plugins.points.rounding': must be an integer",
                                       "test.toml:5: key 'plugins.points.monthly_cap': must be a string",
                                       "test.toml:11: key 'plugins.points.public': must be true or false",
                                       "test.toml:6: key 'plugins.points.rounding': must be a number"));
}

TEST_F(PluginSection, ValuesOfTheRightTypeAreReturned) {
  EXPECT_EQ(section->string("rounding"), "up");
  EXPECT_EQ(section->boolean("enabled_flag"), true);
  EXPECT_EQ(section->number("ratio"), 2.0);  // an integer is a number too
  EXPECT_EQ(section->number("ratio_f"), 0.5);
  EXPECT_TRUE(section->has("ratio"));
  EXPECT_FALSE(section->has("nothing"));
  EXPECT_EQ(section->string("nothing"), std::nullopt);
  EXPECT_EQ(section->string_or("nothing", "fallback"), "fallback");
  EXPECT_TRUE(cfg.ok()) << all_errors(cfg);
}

TEST_F(PluginSection, StringsListAndItsErrors) {
  EXPECT_THAT(section->strings("categories").value_or(std::vector<std::string>{}), ElementsAre("卫生", "治安"));
  EXPECT_TRUE(cfg.ok());
  EXPECT_EQ(section->strings("mixed"), std::nullopt);
  EXPECT_EQ(section->strings("rounding"), std::nullopt);
  EXPECT_THAT(*cfg.errors,
              ElementsAre(StartsWith("test.toml:8: key 'plugins.points.mixed': must be a list of strings"),
                          StartsWith("test.toml:6: key 'plugins.points.rounding': must be a list of strings")));
}

TEST_F(PluginSection, TablesOfAnArrayAreReadInOrderWithTheirOwnUnknownKeys) {
  auto rules = section->tables("rules");
  ASSERT_THAT(rules, SizeIs(2));
  EXPECT_EQ(rules[0]->path(), "plugins.points.rules[0]");
  EXPECT_EQ(rules[0]->string("name"), "clean_yard");
  EXPECT_EQ(rules[0]->integer("score", 0, 100), 5);
  EXPECT_EQ(rules[1]->string("name"), "fire_drill");
  EXPECT_EQ(rules[1]->integer("score", 0, 100), 7);
  EXPECT_TRUE(cfg.ok());
  rules.clear();  // the module is done with them: `scroe` was never read
  EXPECT_THAT(*cfg.errors, ElementsAre(StartsWith("test.toml:21: key 'plugins.points.rules[1].scroe': unknown key")));
}

TEST_F(PluginSection, TablesOfANonArrayIsAnError) {
  EXPECT_THAT(section->tables("rounding"), IsEmpty());
  EXPECT_THAT(
      *cfg.errors,
      ElementsAre(
          "test.toml:6: key 'plugins.points.rounding': must be an array of tables ([[plugins.points.rounding]])"));
  EXPECT_THAT(section->tables("absent"), IsEmpty());
  EXPECT_EQ(section->table("absent"), nullptr);
}

TEST_F(PluginSection, UnknownKeyIsReportedOnlyAfterFinishSection) {
  section->integer("monthly_cap", 0, 100000);
  section->string("rounding");
  section->strings("categories");
  {
    auto rules = section->tables("rules");
    ASSERT_THAT(rules, SizeIs(2));
    for (auto& rule : rules) {
      rule->string("name");
      rule->integer("score");
    }
  }  // the rule tables are done with, which finishes them: their typo shows up now
  EXPECT_THAT(*cfg.errors, ElementsAre(StartsWith("test.toml:21: key 'plugins.points.rules[1].scroe': unknown key")));
  // The plugin section itself is still being read: nothing reported for it yet.
  EXPECT_THAT(all_errors(cfg), Not(HasSubstr("'plugins.points.mixed'")));

  finish_section(*section);
  const std::string after = all_errors(cfg);
  EXPECT_THAT(after, HasSubstr("test.toml:8: key 'plugins.points.mixed': unknown key"));
  EXPECT_THAT(after, HasSubstr("test.toml:9: key 'plugins.points.ratio': unknown key"));
  EXPECT_THAT(after, HasSubstr("test.toml:10: key 'plugins.points.ratio_f': unknown key"));
  EXPECT_THAT(after, HasSubstr("test.toml:11: key 'plugins.points.public': unknown key"));
  EXPECT_THAT(after, HasSubstr("test.toml:12: key 'plugins.points.enabled_flag': unknown key"));
  EXPECT_THAT(*cfg.errors, SizeIs(1 + 5));  // read keys (monthly_cap, rounding, ...) are not reported
  finish_section(*section);                 // a second call (or the destructor) adds nothing
  EXPECT_THAT(*cfg.errors, SizeIs(1 + 5));
}

TEST(Config, UnknownKeysOfAPluginAreReportedWhenTheConfigGoesAway) {
  // A module that never calls finish_section still gets its typos reported.
  auto errors = std::make_shared<std::vector<std::string>>();
  {
    Config cfg = load_text("[plugins]\nenabled = [\"points\"]\n[plugins.points]\nmonthy_cap = 1\n");
    ASSERT_TRUE(cfg.ok()) << all_errors(cfg);
    errors = cfg.errors;
  }
  EXPECT_THAT(*errors, ElementsAre(StartsWith("test.toml:4: key 'plugins.points.monthy_cap': unknown key")));
}

TEST(Config, SyntheticAdapterReadsGivenValues) {
  Config cfg = load_text("");
  AdapterEntry console = synthetic_adapter(cfg, "console", "console", {{"prompt", "> "}});
  EXPECT_EQ(console.id, "console");
  EXPECT_EQ(console.type, "console");
  EXPECT_EQ(console.section->string("prompt"), "> ");
  finish_section(*console.section);
  EXPECT_TRUE(cfg.ok()) << all_errors(cfg);
}

}  // namespace
}  // namespace villagebot::config
