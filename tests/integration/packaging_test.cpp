// Operations (issue 13): the systemd unit the package installs is valid and hardened.
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "process.hpp"
#include "testkit.hpp"

namespace villagebot::testkit {
namespace {

using ::testing::HasSubstr;

TEST(Packaging, TheSystemdUnitPassesVerifyAndIsHardened) {
  std::ifstream in(VILLAGEBOT_SOURCE_DIR "/config/systemd/villagebot.service");
  ASSERT_TRUE(in) << "config/systemd/villagebot.service is missing";
  std::stringstream text;
  text << in.rdbuf();
  // The unit names the installed binary; point it at this build's so that verify can check it.
  const std::string unit = std::regex_replace(text.str(), std::regex("/usr/bin/villagebot"), VILLAGEBOT_EXE);
  const auto dir = make_temp_dir("villagebot-unit");
  const auto path = dir / "villagebot.service";
  std::ofstream(path) << unit;

  const auto verify = run({"systemd-analyze", "verify", path.string()});
  ASSERT_NE(verify.exit_code, 127) << "systemd-analyze is missing (scripts/test.sh installs systemd)";
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_THAT(verify.err, ::testing::Not(HasSubstr("Unknown key"))) << verify.err;
  EXPECT_THAT(verify.err, ::testing::Not(HasSubstr("not executable"))) << verify.err;

  // systemd's own exposure score (0 = fully locked down, 10 = unprotected); "OK" is below 4.
  const auto security = run({"systemd-analyze", "security", "--offline=true", path.string()});
  std::smatch m;
  const std::string out = security.out + security.err;
  ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(Overall exposure level for villagebot\.service: ([0-9.]+))")))
      << out;
  EXPECT_LT(std::stod(m[1].str()), 3.0) << out;
  for (const char* setting : {"User=villagebot", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                              "CapabilityBoundingSet=", "SystemCallFilter=@system-service"})
    EXPECT_THAT(unit, HasSubstr(setting));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// The first config the package installs is valid against this build's modules (every plugin
// enabled), once its module folder is this build's and the generated secret is in the environment.
TEST(Packaging, TheInstalledConfigPassesConfigCheckAndTheScriptsParse) {
  std::ifstream in(VILLAGEBOT_BINARY_DIR "/package/villagebot.toml");
  ASSERT_TRUE(in) << "cmake did not configure config/package/villagebot.toml.in";
  std::stringstream text;
  text << in.rdbuf();
  std::string config = text.str();
  EXPECT_THAT(config, HasSubstr("path = \"/var/lib/villagebot/villagebot.db\""));
  config = std::regex_replace(config, std::regex("dir = \"[^\"]*\""), "dir = \"" VILLAGEBOT_MODULE_DIR "\"");
  const auto dir = make_temp_dir("villagebot-pkgconf");
  config = std::regex_replace(config, std::regex("/var/lib/villagebot/villagebot.db"), (dir / "v.db").string());
  std::ofstream(dir / "villagebot.toml") << config;
  const auto ok = run({"env", "VILLAGEBOT_WEBHOOK_SECRET=0123456789abcdef", VILLAGEBOT_EXE, "config", "check",
                       (dir / "villagebot.toml").string()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("OK"));
  const auto missing = run({"env", "-u", "VILLAGEBOT_WEBHOOK_SECRET", VILLAGEBOT_EXE, "config", "check",
                            (dir / "villagebot.toml").string()});
  EXPECT_NE(missing.exit_code, 0) << "the secret comes from the environment, never from the file";
  for (const char* script : {"postinst", "prerm", "postrm"}) {
    const auto r = run({"sh", "-n", std::string(VILLAGEBOT_SOURCE_DIR "/config/package/") + script});
    EXPECT_EQ(r.exit_code, 0) << script << ": " << r.err;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace villagebot::testkit
