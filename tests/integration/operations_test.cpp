// Monitoring (issue 13): the metrics the shipped Prometheus alert rules rely on exist and move
// when what they watch goes wrong.
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mock_gateway.hpp"
#include "testkit.hpp"

namespace villagebot::testkit {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

double metric(const std::string& text, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("\n" + name + " ([0-9.eE+-]+)"))) return -1;
  return std::stod(m[1].str());
}

TEST(Operations, EveryMetricTheAlertRulesUseIsExported) {
  std::ifstream in(VILLAGEBOT_SOURCE_DIR "/config/prometheus/villagebot-alerts.yml");
  ASSERT_TRUE(in);
  std::stringstream rules;
  rules << in.rdbuf();
  std::set<std::string> used;
  const std::string text = rules.str();
  const std::regex name(R"(villagebot_[a-z_]+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), name); it != std::sregex_iterator(); ++it)
    used.insert(it->str());
  ASSERT_GE(used.size(), 5U);

  Options o;
  o.plugins = {"test_echo"};
  TestServer server(o);
  const auto metrics = server.request("GET", "/metrics").body;
  for (const auto& n : used) EXPECT_THAT(metrics, HasSubstr("# TYPE " + n + " ")) << n << " is used by a rule";
  EXPECT_EQ(metric(metrics, "villagebot_up"), 1);
  EXPECT_EQ(metric(metrics, "villagebot_faults"), 0) << "a healthy server lists no fault";
  EXPECT_EQ(metric(metrics, "villagebot_outbox_oldest_due_seconds"), 0);
  EXPECT_EQ(metric(metrics, "villagebot_scheduler_overdue_jobs"), 0);
}

// A gateway that takes requests and never answers: the one sender is stuck, the next message
// waits, and the age the QueueStuck rule watches grows.
TEST(Operations, AHungGatewayMakesTheOldestDueMessageAge) {
  MockGateway gw;
  GatewayFaults faults;
  faults.timeout_rate = 1.0;
  gw.set_faults(faults);
  Options o;
  o.plugins = {"test_echo"};
  o.adapter_toml = "reply_url = \"" + gw.url("/chat") + "\"\nconcurrency = 1\nsend_timeout_ms = 5000\n";
  TestServer server(o);
  ApiClient admin(server, "admin");
  const auto r = admin.call("POST", "/api/v1/broadcasts",
                            {{"text", "停水通知"}, {"audience", {{"everyone", true}}}, {"policy", "personal_all"}});
  ASSERT_EQ(r.status, 201) << r.raw;
  std::this_thread::sleep_for(2500ms);
  const auto metrics = server.request("GET", "/metrics").body;
  EXPECT_GE(metric(metrics, "villagebot_outbox_oldest_due_seconds"), 2.0) << metrics;
  EXPECT_GE(metric(metrics, "villagebot_outbox_queued") + metric(metrics, "villagebot_outbox_sending"), 5.0);
}

}  // namespace
}  // namespace villagebot::testkit
