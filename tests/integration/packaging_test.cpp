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

}  // namespace
}  // namespace villagebot::testkit
