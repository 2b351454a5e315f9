// Shifts (issue 9, in progress): 30 concurrent 报名 for a 5-place shift leave exactly 5; a
// completed shift awards its points exactly once, also when the completion runs twice and the
// server restarts in between; a sign-up that did not check in is a no-show.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/job_scheduler.hpp"
#include "testkit.hpp"

namespace villagebot {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;
using testkit::eventually;
using testkit::TestServer;
using Api = testkit::ApiClient;
using Clock = testkit::ManualClock;

std::string volunteers(int n) {
  std::string csv = "户号,户主,姓名,手机,村民小组,角色\nC1,村干部,村干部,13400000000,一组,村干部\n";
  for (int i = 1; i <= n; ++i) {
    char line[128];
    std::snprintf(line, sizeof line, "V%03d,志愿者%d,志愿者%d,%lld,一组,志愿者\n", i, i, i, 13400000000LL + i);
    csv += line;
  }
  return csv;
}

std::int64_t ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

constexpr const char* kPosts =
    "[[plugins.volunteers.posts]]\ncode = \"HS\"\nname = \"护水岗\"\nplace = \"河堤\"\npoints_rule = \"A02\"\n";

TEST(Shifts, ThirtyConcurrentSignUpsForFivePlacesLeaveExactlyFive) {
  Clock clock;
  testkit::Options o;
  o.plugins = {"volunteers"};
  o.now = [&clock] { return clock.now(); };
  o.people_csv = volunteers(30);
  o.extra_toml = kPosts;
  TestServer server(o);
  Api cadre(server, "cadre");
  auto r = cadre.call(
      "POST", "/api/v1/volunteers/shifts",
      {{"post", "HS"}, {"start_ms", ms(clock.now() + 48h)}, {"end_ms", ms(clock.now() + 50h)}, {"capacity", 5}});
  ASSERT_EQ(r.status, 201) << r.raw;
  std::atomic<int> ok{0}, full{0};
  std::vector<std::thread> threads;
  for (int i = 1; i <= 30; ++i)
    threads.emplace_back([&, i] {
      const auto reply = server.send(std::to_string(13400000000LL + i), "报名 1");
      if (!reply.empty() && reply[0].find("报名成功") != std::string::npos) ++ok;
      if (!reply.empty() && reply[0].find("报满") != std::string::npos) ++full;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 5);
  EXPECT_EQ(full.load(), 25);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM vol_signups WHERE status = 'signed'"), 5);
}

TEST(Shifts, ACompletedShiftAwardsItsPointsExactlyOnce) {
  Clock clock;
  testkit::Options o;
  o.plugins = {"points", "volunteers"};
  o.now = [&clock] { return clock.now(); };
  o.people_csv = volunteers(2);
  o.extra_toml =
      std::string(kPosts) +
      "\n[[plugins.points.rules]]\ncode = \"A02\"\ndescription = \"护水岗值班\"\npoints = 3\nauto_approve = true\n";
  TestServer server(o);
  Api cadre(server, "cadre");
  auto r = cadre.call(
      "POST", "/api/v1/volunteers/shifts",
      {{"post", "HS"}, {"start_ms", ms(clock.now() + 1h)}, {"end_ms", ms(clock.now() + 3h)}, {"capacity", 2}});
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_THAT(server.send("13400000001", "报名 1").at(0), HasSubstr("报名成功"));
  EXPECT_THAT(server.send("13400000002", "报名 1").at(0), HasSubstr("报名成功"));
  EXPECT_THAT(server.send("13400000001", "签到").at(0), HasSubstr("没有正在进行"));  // not yet
  clock.advance(90min);
  EXPECT_THAT(server.send("13400000001", "签到").at(0), HasSubstr("签到成功"));
  clock.advance(2h);
  server.poke_scheduler();
  ASSERT_TRUE(eventually(
      [&] { return server.count("SELECT COUNT(*) FROM vol_shifts WHERE completed_at_ms IS NOT NULL") == 1; }));
  auto balance = [&] { return server.count("SELECT COALESCE(SUM(points), 0) FROM points_entries"); };
  ASSERT_TRUE(eventually([&] { return balance() == 3; })) << balance();
  // The completion again (a repeated job), and across a restart: still once.
  server.runtime().scheduler().schedule_at("volunteers.complete", clock.now(), json{{"shift_id", 1}},
                                           Scheduler::Missed::fire_late);
  server.poke_scheduler();
  std::this_thread::sleep_for(500ms);
  server.restart();
  server.runtime().scheduler().schedule_at("volunteers.complete", clock.now(), json{{"shift_id", 1}},
                                           Scheduler::Missed::fire_late);
  server.poke_scheduler();
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(balance(), 3);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM points_entries"), 1);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM vol_signups WHERE status = 'no_show'"), 1);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM vol_signups WHERE status = 'completed'"), 1);
}

// The rota through the API: a preview writes nothing; publishing writes the sign-ups; each
// person's calendar is well-formed iCalendar (CRLF, lines of at most 75 octets, one VEVENT per
// shift, UTC times) with the shifts the rota gave them.
TEST(Shifts, RotaPreviewPublishAndCalendars) {
  Clock clock;
  testkit::Options o;
  o.plugins = {"volunteers"};
  o.now = [&clock] { return clock.now(); };
  o.people_csv = volunteers(6);
  o.extra_toml = kPosts;
  TestServer server(o);
  Api cadre(server, "cadre");
  for (int day = 1; day <= 4; ++day) {
    auto r = cadre.call("POST", "/api/v1/volunteers/shifts",
                        {{"post", "HS"},
                         {"start_ms", ms(clock.now() + day * 24h)},
                         {"end_ms", ms(clock.now() + day * 24h + 2h)},
                         {"capacity", 3}});
    ASSERT_EQ(r.status, 201) << r.raw;
  }
  const json period = {{"from_ms", ms(clock.now())}, {"to_ms", ms(clock.now() + 7 * 24h)}};
  auto preview = cadre.call("POST", "/api/v1/volunteers/rota/preview", period);
  ASSERT_EQ(preview.status, 200) << preview.raw;
  EXPECT_EQ(preview.body["assignments"].size(), 12u) << preview.raw;
  EXPECT_TRUE(preview.body["unfilled"].empty()) << preview.raw;
  EXPECT_DOUBLE_EQ(preview.body["fairness"]["max_hours"].get<double>(), 4.0) << preview.raw;
  EXPECT_DOUBLE_EQ(preview.body["fairness"]["min_hours"].get<double>(), 4.0) << preview.raw;
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM vol_signups"), 0);
  auto published = cadre.call("POST", "/api/v1/volunteers/rota/publish", period);
  ASSERT_EQ(published.status, 200) << published.raw;
  EXPECT_EQ(published.body["assignments"], preview.body["assignments"]) << "the preview is what gets published";
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM vol_signups WHERE status = 'signed'"), 12);
  // Publishing again places nobody more: every place is taken.
  EXPECT_EQ(cadre.call("POST", "/api/v1/volunteers/rota/publish", period).body["assignments"].size(), 0u);

  const auto person = server.count("SELECT person_id FROM vol_signups ORDER BY person_id LIMIT 1");
  auto ics = cadre.call("GET", "/api/v1/volunteers/persons/" + std::to_string(person) + "/calendar.ics");
  ASSERT_EQ(ics.status, 200);
  const std::string& cal = ics.raw;
  EXPECT_TRUE(cal.starts_with("BEGIN:VCALENDAR\r\n")) << cal;
  EXPECT_TRUE(cal.ends_with("END:VCALENDAR\r\n")) << cal;
  std::size_t events = 0, at = 0;
  while ((at = cal.find("BEGIN:VEVENT\r\n", at)) != std::string::npos) {
    ++events;
    ++at;
  }
  EXPECT_EQ(events, static_cast<std::size_t>(
                        server.count("SELECT COUNT(*) FROM vol_signups WHERE person_id = " + std::to_string(person))));
  for (std::size_t from = 0; from < cal.size();) {
    const auto end = cal.find("\r\n", from);
    ASSERT_NE(end, std::string::npos) << "every line ends with CRLF";
    EXPECT_LE(end - from, 75u) << cal.substr(from, end - from);
    from = end + 2;
  }
  EXPECT_NE(cal.find("DTSTART:20"), std::string::npos);
  EXPECT_NE(cal.find("Z\r\nDTEND:"), std::string::npos);
  EXPECT_NE(cal.find("LOCATION:河堤"), std::string::npos);
  EXPECT_EQ(cadre.call("GET", "/api/v1/volunteers/posts/XX/calendar.ics").status, 404);
}

}  // namespace
}  // namespace villagebot
