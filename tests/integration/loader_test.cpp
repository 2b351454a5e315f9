// Start-up refuses broken plugin sets, naming the plugin and the reason.
#include <signal.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "process_support.hpp"

namespace villagebot::testkit {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

RunResult serve(const std::vector<std::string>& plugins) {
  ProcessVillage v(plugins, "", "", false);
  return run(v.serve_args(), "", std::chrono::seconds(30));
}

TEST(Loader, AWrongAbiKeyIsRefused) {
  const auto r = serve({"test_bad_abi"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, AllOf(HasSubstr("test_bad_abi"), HasSubstr("different villagebot SDK")));
}

TEST(Loader, AMissingDependencyIsRefused) {
  const auto r = serve({"test_needs_missing"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, AllOf(HasSubstr("test_needs_missing"), HasSubstr("no_such_plugin"), HasSubstr("not enabled")));
}

TEST(Loader, ADependencyCycleIsRefused) {
  const auto r = serve({"test_cycle_a", "test_cycle_b"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, AllOf(HasSubstr("cycle"), HasSubstr("test_cycle_a -> test_cycle_b -> test_cycle_a")));
}

TEST(Loader, AnExceptionInCreateIsRefused) {
  const auto r = serve({"test_throws"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, AllOf(HasSubstr("test_throws"), HasSubstr("the answer is not 42")));
}

TEST(Loader, AMissingLibraryIsRefused) {
  const auto r = serve({"no_such_plugin_at_all"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, AllOf(HasSubstr("no_such_plugin_at_all"), HasSubstr("library not found")));
}

TEST(Loader, AGoodPluginStartsAndStopsCleanly) {
  ProcessVillage v({"test_echo"}, "", "", false);
  Child server(v.serve_args());
  ASSERT_GT(port_from_line(server.wait_for_line("listening on")), 0);
  server.signal(SIGTERM);
  const auto r = server.wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("plugin test_echo 1.0.0 started"));
}

}  // namespace
}  // namespace villagebot::testkit
