// An adapter's rate limit as the gateway sees it (issue 4): rate_per_minute =
// 20 with burst = 1, measured over three minutes at a real (mock) gateway.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "mock_gateway.hpp"
#include "runtime/tokens.hpp"
#include "testkit.hpp"

namespace villagebot {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using steady = std::chrono::steady_clock;

std::string village_csv(int persons) {
  std::string csv = "户号,户主,姓名,手机,村民小组,角色,企业微信,钉钉,飞书,telegram,语言,中心户,负责\n";
  for (int i = 0; i < persons; ++i) {
    const int h = i / 3;
    char code[16];
    std::snprintf(code, sizeof code, "H%05d", h);
    const std::string head = "户主" + std::to_string(h);
    csv += std::string(code) + "," + head + "," + (i % 3 == 0 ? head : "村民" + std::to_string(i)) + "," +
           std::to_string(13900000000LL + i) + ",一组,村民,,,,,,,\n";
  }
  return csv;
}

TEST(DeliveryRate, TwentyAMinuteWithBurstOneGivesSixtyInThreeMinutes) {
  constexpr int kPersons = 90;
  constexpr auto kWindow = 180s;
  testkit::MockGateway gw;
  testkit::Options options;
  options.adapter_toml = "reply_url = \"" + gw.url("/send") + "\"\nrate_per_minute = 20\nburst = 1\n";
  options.people_csv = village_csv(kPersons);
  testkit::TestServer server(options);
  const std::string token = server.runtime().tokens().create("rate", "admin");
  const std::vector<std::pair<std::string, std::string>> auth{{"Authorization", "Bearer " + token},
                                                              {"Content-Type", "application/json"}};
  const auto created = server.request(
      "POST", "/api/v1/broadcasts",
      json{{"text", "限速测试通知"}, {"audience", {{"everyone", true}}}, {"policy", "personal_all"}}.dump(), auth);
  ASSERT_EQ(created.status, 201) << created.body << created.error;
  const auto id = json::parse(created.body)["id"].get<std::int64_t>();
  EXPECT_EQ(json::parse(created.body)["plan"]["personal_chats"], kPersons);

  ASSERT_TRUE(gw.wait_for_accepted(1, 10s));
  const auto first = gw.messages().at(0).received;
  std::this_thread::sleep_until(first + kWindow + 2s);

  const auto messages = gw.messages();
  std::size_t in_window = 0;
  auto min_gap = steady::duration::max();
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].received - first < kWindow) ++in_window;
    if (i > 0) min_gap = std::min(min_gap, messages[i].received - messages[i - 1].received);
  }
  const auto per_minute = gw.max_requests_in_window(60s);
  std::printf(
      "[ figures  ] rate_per_minute = 20, burst = 1: %zu messages accepted in the %lld s after the first "
      "(expected 60, 57-63 allowed); at most %zu in any 60 s; smallest gap %lld ms; %zu requests in all\n",
      in_window, static_cast<long long>(kWindow.count()), per_minute,
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(min_gap).count()),
      gw.requests_total());
  EXPECT_GE(in_window, 57u);
  EXPECT_LE(in_window, 63u);
  EXPECT_LE(per_minute, 21u);                     // 20 a minute, plus the one token the bucket holds
  EXPECT_GE(min_gap, 2500ms);                     // burst 1: never two at once
  EXPECT_TRUE(gw.duplicates().empty());           // nobody twice
  EXPECT_EQ(gw.requests_total(), gw.accepted());  // no failures, no retries

  // The rest is not sent: cancel so that the test ends now.
  EXPECT_EQ(server.request("DELETE", "/api/v1/broadcasts/" + std::to_string(id), {}, auth).status, 200);
}

}  // namespace
}  // namespace villagebot
