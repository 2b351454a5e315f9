// The volunteers plugin as officers and villagers use it (issue 9): recurring templates made
// into shifts (once, also across restarts), reminders the evening before and an hour before on
// each person's channel, swaps (换班 / 接班, one winner when two take the last offered place),
// the no-show limit and its clearing, unavailability honoured by the rota, a rota draft adjusted
// (wrong changes refused with their problems) and published, a cancelled shift, the fairness
// report, hostile input, the OpenAPI document, and the .ics feed read back by a standard
// iCalendar parser (python3-icalendar).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
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
using ::testing::Not;
using testkit::eventually;
using testkit::TestServer;
using Api = testkit::ApiClient;
using Clock = testkit::ManualClock;

constexpr std::int64_t kHour = 3600 * 1000;
constexpr std::int64_t kDay = 24 * kHour;

// 村干部 C1 (person 1) and volunteers V001… (persons 2…); the first `party` of them are party members.
std::string village(int n, int party = 0) {
  std::string csv = "户号,户主,姓名,手机,村民小组,角色\nC1,村干部,村干部,13400000000,一组,村干部\n";
  for (int i = 1; i <= n; ++i) {
    char line[160];
    std::snprintf(line, sizeof line, "V%03d,志愿者%d,志愿者%d,%lld,一组,志愿者%s\n", i, i, i, 13400000000LL + i,
                  i <= party ? "、党员" : "");
    csv += line;
  }
  return csv;
}

std::string phone(int i) {
  return std::to_string(13400000000LL + i);
}

std::int64_t ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Village midnight (UTC+8) of the clock's day, plus `days`, plus `hours`, in unix ms.
std::int64_t local(const Clock& clock, int days, double hours) {
  const std::int64_t off = 8 * kHour;
  const std::int64_t midnight = (ms(clock.now()) + off) / kDay * kDay - off;
  return midnight + days * kDay + static_cast<std::int64_t>(hours * static_cast<double>(kHour));
}

constexpr const char* kPosts = R"toml(
[[plugins.volunteers.posts]]
code = "HS"
name = "护水岗"
place = "河堤，东段; 闸口"
points_rule = "A02"

[[plugins.volunteers.posts]]
code = "DY"
name = "党员护林岗"
place = "后山"
role = "party_member"
)toml";

constexpr const char* kPointsRule = R"toml(
[[plugins.points.rules]]
code = "A02"
description = "护水岗值班"
points = 3
auto_approve = true
)toml";

testkit::Options options(Clock& clock, int volunteers, const std::string& extra = "", int party = 0) {
  testkit::Options o;
  o.plugins = {"volunteers"};
  o.now = [&clock] { return clock.now(); };
  o.people_csv = village(volunteers, party);
  o.extra_toml = std::string(kPosts) + extra;
  return o;
}

json add_shift(Api& cadre, const std::string& post, std::int64_t start, std::int64_t end, int capacity,
               std::int64_t cutoff = 0) {
  json body{{"post", post}, {"start", start}, {"end", end}, {"capacity", capacity}};
  if (cutoff > 0) body["signup_cutoff"] = cutoff;
  auto r = cadre.call("POST", "/api/v1/volunteers/shifts", body);
  EXPECT_EQ(r.status, 201) << r.raw;
  return r.body;
}

// Messages the outbox holds for a person whose text contains `needle`.
std::int64_t messages_to(TestServer& server, int person, const std::string& needle) {
  return server.count("SELECT COUNT(*) FROM core_outbox WHERE person_id = " + std::to_string(person) +
                      " AND text LIKE '%" + needle + "%'");
}

TEST(Volunteers, RecurringTemplatesMakeTheirShiftsOnceAlsoAcrossRestarts) {
  Clock clock;  // Monday 2026-11-30 10:00 village time
  TestServer server(options(clock, 3,
                            "\n[[plugins.volunteers.templates]]\ncode = \"HS-SAT\"\npost = \"HS\"\ndays = "
                            "[\"周六\"]\nstart = \"07:00\"\nend = \"09:00\"\ncapacity = 2\ncutoff_minutes = 720\n"));
  Api cadre(server, "cadre");
  auto list = cadre.call("GET", "/api/v1/volunteers/shifts");
  ASSERT_EQ(list.status, 200) << list.raw;
  // 28 days ahead: the Saturdays 12-05, 12-12, 12-19 and 12-26, each 07:00–09:00 village time.
  ASSERT_EQ(list.body["items"].size(), 4u) << list.raw;
  for (int i = 0; i < 4; ++i) {
    const auto& s = list.body["items"][static_cast<std::size_t>(i)];
    EXPECT_EQ(s["start_ms"].get<std::int64_t>(), local(clock, 5 + 7 * i, 7)) << s;
    EXPECT_EQ(s["end_ms"].get<std::int64_t>(), local(clock, 5 + 7 * i, 9)) << s;
    EXPECT_EQ(s["signup_cutoff_ms"].get<std::int64_t>(), local(clock, 4 + 7 * i, 19)) << "12 hours before";
    EXPECT_EQ(s["capacity"], 2);
  }
  server.restart();
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM vol_shifts"), 4) << "a restart makes nothing twice";
  // A week later the horizon has moved on by one Saturday.
  clock.advance(std::chrono::milliseconds(7 * kDay));
  server.restart();
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM vol_shifts"), 5);
  // A template through the API: Wednesdays 19:00–21:00, made at once.
  auto t = cadre.call("POST", "/api/v1/volunteers/templates",
                      {{"post", "HS"}, {"weekdays", {3}}, {"start", "19:00"}, {"end", "21:00"}, {"capacity", 1}});
  ASSERT_EQ(t.status, 201) << t.raw;
  const auto wednesdays = server.count("SELECT COUNT(*) FROM vol_shifts WHERE template_id = " +
                                       std::to_string(t.body["id"].get<std::int64_t>()));
  EXPECT_GE(wednesdays, 4);
  EXPECT_LE(wednesdays, 5);
  auto stop = cadre.call("DELETE", "/api/v1/volunteers/templates/" + std::to_string(t.body["id"].get<std::int64_t>()));
  EXPECT_EQ(stop.status, 200) << stop.raw;
  clock.advance(std::chrono::milliseconds(7 * kDay));
  server.restart();
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM vol_shifts WHERE template_id = " +
                         std::to_string(t.body["id"].get<std::int64_t>())),
            wednesdays)
      << "a stopped template makes no more shifts";
  // Wrong templates are refused with a reason.
  for (const json& bad :
       {json{{"post", "HS"}, {"weekdays", {8}}, {"start", "07:00"}, {"end", "09:00"}, {"capacity", 1}},
        json{{"post", "HS"}, {"weekdays", {1}}, {"start", "09:00"}, {"end", "07:00"}, {"capacity", 1}},
        json{{"post", "XX"}, {"weekdays", {1}}, {"start", "07:00"}, {"end", "09:00"}, {"capacity", 1}},
        json{{"post", "HS"}, {"weekdays", "六"}, {"start", "7点"}, {"end", "09:00"}, {"capacity", 1}},
        json{{"post", "HS"}, {"weekdays", {1}}, {"start", ":0:00"}, {"end", "00::0"}, {"capacity", 1}},
        json{{"post", "HS"}, {"weekdays", {4294967302LL}}, {"start", "07:00"}, {"end", "09:00"}, {"capacity", 1}},
        json{{"post", "HS"}, {"weekdays", {1}}, {"start", "07:00"}, {"end", "09:00"}, {"capacity", 4294967297LL}},
        json{{"post", "HS"},
             {"weekdays", {1}},
             {"start", "07:00"},
             {"end", "09:00"},
             {"capacity", 1},
             {"cutoff_minutes", "soon"}}}) {
    auto r = cadre.call("POST", "/api/v1/volunteers/templates", bad);
    EXPECT_TRUE(r.status == 422 || r.status == 404) << bad << " → " << r.raw;
  }
  // The config template moves to 08:00: its future shifts nobody signed up for go, the one with a
  // sign-up stays (an officer handles it), and the new times are made.
  const auto first = server.count("SELECT MIN(id) FROM vol_shifts WHERE template_id = 1 AND start_ms > " +
                                  std::to_string(ms(clock.now())));
  ASSERT_THAT(server.send(phone(1), "报名 " + std::to_string(first)).at(0), HasSubstr("报名成功"));
  std::string toml;
  {
    std::ifstream in(server.config_path());
    toml.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto at = toml.find("start = \"07:00\"");
  ASSERT_NE(at, std::string::npos);
  toml.replace(at, 15, "start = \"08:00\"");
  std::ofstream(server.config_path()) << toml;
  server.restart();
  const std::string future = " AND start_ms > " + std::to_string(ms(clock.now()));
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM vol_shifts WHERE template_id = 1 AND cancelled_at_ms IS NULL" + future +
                         " AND (start_ms + 8 * 3600000) % 86400000 = 7 * 3600000"),
            1)
      << "only the 07:00 shift with a sign-up stays";
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM vol_shifts WHERE template_id = 1 AND cancelled_at_ms IS NULL" + future +
                         " AND (start_ms + 8 * 3600000) % 86400000 = 8 * 3600000"),
            4);
}

TEST(Volunteers, RemindersGoTheEveningBeforeAndAnHourBeforeToThoseOnTheShift) {
  Clock clock;
  TestServer server(options(clock, 3));
  Api cadre(server, "cadre");
  // Tomorrow 07:00–09:00.
  const auto s = add_shift(cadre, "HS", local(clock, 1, 7), local(clock, 1, 9), 3);
  const std::string id = std::to_string(s["id"].get<std::int64_t>());
  ASSERT_THAT(server.send(phone(1), "报名 " + id).at(0), HasSubstr("报名成功"));
  ASSERT_THAT(server.send(phone(2), "报名 " + id).at(0), HasSubstr("报名成功"));
  ASSERT_THAT(server.send(phone(2), "取消报名 " + id).at(0), HasSubstr("已取消"));
  EXPECT_EQ(messages_to(server, 2, "值班提醒"), 0);
  // 20:00 the evening before.
  clock.advance(10h + 1min);
  server.poke_scheduler();
  ASSERT_TRUE(eventually([&] { return messages_to(server, 2, "值班提醒") == 1; })) << "person 2 is volunteer 1";
  EXPECT_EQ(messages_to(server, 2, "明天"), 1);
  EXPECT_EQ(messages_to(server, 3, "值班提醒"), 0) << "a cancelled sign-up gets no reminder";
  EXPECT_EQ(messages_to(server, 4, "值班提醒"), 0) << "nor does someone not on the shift";
  // 06:00: an hour before; a reply-class message so that quiet hours do not hold it past the start.
  clock.advance(10h);
  server.poke_scheduler();
  ASSERT_TRUE(eventually([&] { return messages_to(server, 2, "即将开始") == 1; }));
  EXPECT_EQ(server.count("SELECT priority FROM core_outbox WHERE person_id = 2 AND text LIKE '%即将开始%'"), 1);
  // The same job again (a restart re-running it) sends nothing twice.
  server.runtime().scheduler().schedule_at("volunteers.remind", clock.now(),
                                           json{{"shift_id", s["id"]}, {"kind", "hour"}}, Scheduler::Missed::fire_late);
  server.poke_scheduler();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(messages_to(server, 2, "值班提醒"), 2);
}

TEST(Volunteers, SwapsMoveAPlaceFromOnePersonToAnotherAndOnlyOneTakesIt) {
  Clock clock;
  TestServer server(options(clock, 6));
  Api cadre(server, "cadre");
  const auto s = add_shift(cadre, "HS", local(clock, 2, 7), local(clock, 2, 9), 1);
  const std::string id = std::to_string(s["id"].get<std::int64_t>());
  ASSERT_THAT(server.send(phone(1), "报名 " + id).at(0), HasSubstr("报名成功"));
  EXPECT_THAT(server.send(phone(2), "报名 " + id).at(0), HasSubstr("报满"));
  EXPECT_THAT(server.send(phone(2), "接班 " + id).at(0), HasSubstr("没有人换班"));
  EXPECT_THAT(server.send(phone(2), "换班 " + id).at(0), HasSubstr("没有报名"));
  EXPECT_THAT(server.send(phone(1), "换班 " + id).at(0), HasSubstr("已发布换班"));
  EXPECT_THAT(server.send(phone(1), "换班 " + id).at(0), HasSubstr("已经发起"));
  EXPECT_THAT(server.send(phone(2), "班次").at(0), HasSubstr("接班 " + id));
  EXPECT_THAT(server.send(phone(2), "报名 " + id).at(0), HasSubstr("接班 " + id));
  // Five people take the one offered place at once: one gets it.
  std::atomic<int> took{0};
  std::vector<std::thread> threads;
  for (int i = 2; i <= 6; ++i)
    threads.emplace_back([&, i] {
      const auto reply = server.send(phone(i), "接班 " + id);
      if (!reply.empty() && reply[0].find("接班成功") != std::string::npos) ++took;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(took.load(), 1);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM vol_signups WHERE status = 'signed'"), 1);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM vol_signups WHERE status = 'swapped' AND person_id = 2"), 1);
  const auto taker = server.count("SELECT person_id FROM vol_signups WHERE status = 'signed'");
  EXPECT_EQ(messages_to(server, 2, "换班成功"), 1) << "the one who offered is told who took it";
  EXPECT_THAT(server.send(phone(1), "我的班次").at(0), HasSubstr("没有报名的班次"));
  // The taker serves and earns the points; the one who swapped is neither paid nor a no-show.
  clock.advance(std::chrono::milliseconds(local(clock, 2, 7.5) - ms(clock.now())));
  EXPECT_THAT(server.send(phone(static_cast<int>(taker - 1)), "签到").at(0), HasSubstr("签到成功"));
  EXPECT_THAT(server.send(phone(1), "签到").at(0), HasSubstr("没有正在进行"));
  clock.advance(2h);
  server.poke_scheduler();
  ASSERT_TRUE(
      eventually([&] { return server.count("SELECT COUNT(*) FROM vol_signups WHERE status = 'completed'") == 1; }));
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM vol_signups WHERE status = 'no_show'"), 0);
}

TEST(Volunteers, NoShowsOverTheLimitSuspendSignUpsUntilTheyExpireOrAreCleared) {
  Clock clock;
  TestServer server(options(clock, 2, "\n[plugins.volunteers]\nno_show_limit = 2\nsuspension_days = 30\n"));
  Api cadre(server, "cadre");
  for (int d = 1; d <= 2; ++d) {
    const auto s = add_shift(cadre, "HS", local(clock, d, 7), local(clock, d, 9), 2);
    ASSERT_THAT(server.send(phone(1), "报名 " + std::to_string(s["id"].get<std::int64_t>())).at(0),
                HasSubstr("报名成功"));
  }
  const auto later = add_shift(cadre, "HS", local(clock, 10, 7), local(clock, 10, 9), 2);
  const std::string later_id = std::to_string(later["id"].get<std::int64_t>());
  clock.advance(std::chrono::milliseconds(local(clock, 3, 0) - ms(clock.now())));
  server.poke_scheduler();
  ASSERT_TRUE(
      eventually([&] { return server.count("SELECT COUNT(*) FROM vol_signups WHERE status = 'no_show'") == 2; }));
  const auto refused = server.send(phone(1), "报名 " + later_id).at(0);
  EXPECT_THAT(refused, HasSubstr("暂停报名"));
  EXPECT_THAT(refused, HasSubstr("2027-01-01")) << "30 days after the last no-show (12-02 09:00)";
  EXPECT_THAT(server.send(phone(1), "我的班次").at(0), HasSubstr("暂停报名"));
  EXPECT_THAT(server.send(phone(2), "报名 " + later_id).at(0), HasSubstr("报名成功")) << "others are not affected";
  auto record = cadre.call("GET", "/api/v1/volunteers/persons/2/record");
  ASSERT_EQ(record.status, 200) << record.raw;
  EXPECT_EQ(record.body["no_shows"], 2);
  EXPECT_TRUE(record.body["suspended_until_ms"].is_number_integer()) << record.raw;
  // The API refuses too (403), and the rota leaves the person out.
  EXPECT_EQ(cadre.call("POST", "/api/v1/volunteers/shifts/" + later_id + "/signups", {{"person_id", 2}}).status, 403);
  auto preview = cadre.call("POST", "/api/v1/volunteers/rota/preview",
                            {{"from", local(clock, 0, 0)}, {"to", local(clock, 20, 0)}});
  ASSERT_EQ(preview.status, 200) << preview.raw;
  for (const auto& a : preview.body["assignments"]) EXPECT_NE(a["person_id"], 2) << preview.raw;
  // A cadre clears the record: the person may sign up again.
  EXPECT_EQ(cadre.call("POST", "/api/v1/volunteers/persons/2/record/clear").status, 200);
  EXPECT_THAT(server.send(phone(1), "报名 " + later_id).at(0), HasSubstr("报名成功"));
}

TEST(Volunteers, ARotaDraftIsAdjustedWithinTheRulesAndPublishedOnce) {
  Clock clock;
  testkit::Options o = options(clock, 4, "", 1);
  o.plugins = {"announcements", "volunteers"};
  TestServer server(o);
  Api cadre(server, "cadre");
  std::vector<std::int64_t> ids;
  for (int d = 1; d <= 3; ++d) ids.push_back(add_shift(cadre, "HS", local(clock, d, 7), local(clock, d, 9), 2)["id"]);
  const auto party = add_shift(cadre, "DY", local(clock, 4, 7), local(clock, 4, 9), 1)["id"].get<std::int64_t>();
  // Volunteer 4 (person 5) is away on day 2.
  auto away = cadre.call("POST", "/api/v1/volunteers/persons/5/unavailability",
                         {{"from", local(clock, 2, 0)}, {"to", local(clock, 3, 0)}, {"reason", "走亲戚"}});
  ASSERT_EQ(away.status, 201) << away.raw;
  const json period{{"from", local(clock, 0, 0)}, {"to", local(clock, 7, 0)}};
  auto preview = cadre.call("POST", "/api/v1/volunteers/rota/preview", period);
  ASSERT_EQ(preview.status, 200) << preview.raw;
  EXPECT_EQ(preview.body["assignments"].size(), 7u) << preview.raw;
  EXPECT_TRUE(preview.body["problems"].empty());
  for (const auto& a : preview.body["assignments"]) {
    if (a["shift_id"] == ids[1]) {
      EXPECT_NE(a["person_id"], 5) << "away that day";
    }
    if (a["shift_id"] == party) {
      EXPECT_EQ(a["person_id"], 2) << "only volunteer 1 is a party member";
    }
  }
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM vol_signups"), 0) << "a preview writes no sign-up";
  const std::string draft =
      "/api/v1/volunteers/rota/drafts/" + std::to_string(preview.body["draft_id"].get<std::int64_t>());
  // Wrong adjustments are refused with their problems, and nothing is saved.
  const json wrong{{"assignments",
                    {{{"shift_id", ids[0]}, {"person_id", 2}},
                     {{"shift_id", ids[0]}, {"person_id", 3}},
                     {{"shift_id", ids[0]}, {"person_id", 4}},  // over capacity
                     {{"shift_id", ids[1]}, {"person_id", 5}},  // away
                     {{"shift_id", party}, {"person_id", 3}},   // not a party member
                     {{"shift_id", 999}, {"person_id", 3}}}}};  // no such shift
  auto refused = cadre.call("PUT", draft, wrong);
  ASSERT_EQ(refused.status, 422) << refused.raw;
  std::vector<std::string> problems;
  for (const auto& p : refused.body["problems"]) problems.push_back(p["problem"]);
  EXPECT_THAT(problems, ::testing::UnorderedElementsAre("over_capacity", "unavailable", "role", "unknown_shift"));
  EXPECT_EQ(cadre.call("GET", draft).body["assignments"], preview.body["assignments"]) << "nothing saved";
  // A sound adjustment is kept.
  const json adjusted{{"assignments",
                       {{{"shift_id", ids[0]}, {"person_id", 3}},
                        {{"shift_id", ids[0]}, {"person_id", 4}},
                        {{"shift_id", ids[1]}, {"person_id", 2}},
                        {{"shift_id", ids[2]}, {"person_id", 5}},
                        {{"shift_id", party}, {"person_id", 2}}}}};
  auto ok = cadre.call("PUT", draft, adjusted);
  ASSERT_EQ(ok.status, 200) << ok.raw;
  EXPECT_EQ(ok.body["unfilled"][std::to_string(ids[1])], 1);
  // Meanwhile volunteer 3 signs up for the place the draft gives to volunteer 4 (person 5) on day 3 … and the other.
  ASSERT_THAT(server.send(phone(3), "报名 " + std::to_string(ids[2])).at(0), HasSubstr("报名成功"));
  ASSERT_THAT(server.send(phone(1), "报名 " + std::to_string(ids[2])).at(0), HasSubstr("报名成功"));
  auto published = cadre.call("POST", draft + "/publish");
  ASSERT_EQ(published.status, 200) << published.raw;
  EXPECT_EQ(published.body["assignments"].size(), 4u) << published.raw;
  ASSERT_EQ(published.body["skipped"].size(), 1u) << published.raw;
  EXPECT_EQ(published.body["skipped"][0]["person_id"], 5);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM vol_signups WHERE status = 'signed'"), 6);
  // Each person assigned is told once, by a 值班安排 notice (persons 2, 3 and 4); publishing again changes nothing.
  auto notices = [&] { return server.count("SELECT COUNT(*) FROM ann_notices WHERE category = '值班安排'"); };
  ASSERT_TRUE(eventually([&] { return notices() == 3; })) << notices();
  auto again = cadre.call("POST", draft + "/publish");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body["assignments"], published.body["assignments"]);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM vol_signups WHERE status = 'signed'"), 6);
  EXPECT_EQ(cadre.call("PUT", draft, adjusted).status, 409) << "a published rota is not adjusted";
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(notices(), 3);
  // The fairness report on what is signed up.
  auto fair = cadre.call("GET", "/api/v1/volunteers/fairness?from=" + std::to_string(local(clock, 0, 0)) +
                                    "&to=" + std::to_string(local(clock, 7, 0)));
  ASSERT_EQ(fair.status, 200) << fair.raw;
  EXPECT_EQ(fair.body["people"], 4);
  EXPECT_DOUBLE_EQ(fair.body["longest_shift_hours"].get<double>(), 2.0);
  // Person 2: day 2, day 3 (signed up by hand) and the party post; person 5: nothing.
  EXPECT_DOUBLE_EQ(fair.body["max_hours"].get<double>(), 6.0) << fair.raw;
  EXPECT_DOUBLE_EQ(fair.body["min_hours"].get<double>(), 0.0) << fair.raw;
  EXPECT_DOUBLE_EQ(fair.body["mean_hours"].get<double>(), 3.0) << fair.raw;
  EXPECT_FALSE(fair.body["within_one_shift"].get<bool>());
  ASSERT_EQ(fair.body["overloaded"].size(), 1u) << fair.raw;
  EXPECT_EQ(fair.body["overloaded"][0]["person_id"], 2);
}

TEST(Volunteers, ACancelledShiftTellsThoseOnItAndAwardsNothing) {
  Clock clock;
  testkit::Options o = options(clock, 2, kPointsRule);
  o.plugins = {"points", "volunteers"};
  TestServer server(o);
  Api cadre(server, "cadre");
  const auto s = add_shift(cadre, "HS", local(clock, 1, 7), local(clock, 1, 9), 2);
  const std::string id = std::to_string(s["id"].get<std::int64_t>());
  ASSERT_THAT(server.send(phone(1), "报名 " + id).at(0), HasSubstr("报名成功"));
  auto cancelled = cadre.call("POST", "/api/v1/volunteers/shifts/" + id + "/cancel");
  ASSERT_EQ(cancelled.status, 200) << cancelled.raw;
  EXPECT_TRUE(cancelled.body["cancelled_at_ms"].is_number_integer());
  EXPECT_EQ(messages_to(server, 2, "值班取消"), 1);
  EXPECT_THAT(server.send(phone(2), "报名 " + id).at(0), HasSubstr("已取消"));
  EXPECT_THAT(server.send(phone(1), "我的班次").at(0), Not(HasSubstr("第 " + id + " 号")));
  clock.advance(std::chrono::milliseconds(local(clock, 1, 8) - ms(clock.now())));
  EXPECT_THAT(server.send(phone(1), "签到").at(0), HasSubstr("没有正在进行"));
  clock.advance(2h);
  server.poke_scheduler();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM points_entries"), 0);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM vol_signups WHERE status = 'no_show'"), 0);
}

TEST(Volunteers, HostileInputGetsAClearRefusalAndChangesNothing) {
  Clock clock;
  TestServer server(options(clock, 2));
  Api cadre(server, "cadre");
  const auto s = add_shift(cadre, "HS", local(clock, 1, 7), local(clock, 1, 9), 2);
  const std::string id = std::to_string(s["id"].get<std::int64_t>());
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"POST", "shifts"},
                                                        {"POST", "templates"},
                                                        {"POST", "rota/preview"},
                                                        {"POST", "rota/publish"},
                                                        {"PUT", "rota/drafts/1"},
                                                        {"POST", "shifts/" + id + "/signups"},
                                                        {"POST", "persons/2/unavailability"}}) {
    for (const std::string body : {"{not json", "[]", "{\"post\": 5, \"start\": {}, \"end\": [], \"capacity\": \"x\"}",
                                   "{\"from\": \"yesterday\", \"to\": true, \"assignments\": [1, \"a\"], "
                                   "\"person_id\": \"2\", \"weekdays\": [\"x\"]}"}) {
      const auto r =
          server.request(method, "/api/v1/volunteers/" + path, body,
                         {{"Authorization", "Bearer " + cadre.token()}, {"Content-Type", "application/json"}});
      EXPECT_GE(r.status, 400) << method << " " << path << " " << body << " → " << r.body;
      EXPECT_LT(r.status, 500) << method << " " << path << " " << body << " → " << r.body;
    }
  }
  EXPECT_EQ(cadre.call("GET", "/api/v1/volunteers/shifts/99999").status, 404);
  EXPECT_EQ(cadre.call("GET", "/api/v1/volunteers/shifts/abc").status, 404);
  EXPECT_EQ(cadre.call("GET", "/api/v1/volunteers/rota/drafts/77").status, 404);
  EXPECT_EQ(cadre
                .call("POST", "/api/v1/volunteers/shifts",
                      {{"post", "HS"}, {"start", local(clock, -1, 7)}, {"end", local(clock, -1, 9)}, {"capacity", 1}})
                .status,
            422)
      << "a shift in the past";
  EXPECT_EQ(cadre
                .call("POST", "/api/v1/volunteers/shifts",
                      {{"post", "HS"}, {"start", local(clock, 1, 7)}, {"end", local(clock, 3, 9)}, {"capacity", 1}})
                .status,
            422)
      << "longer than a day";
  EXPECT_EQ(cadre.call("GET", "/api/v1/volunteers/shifts?from=notatime").status, 422);
  // Chat: usage for wrong arguments, never a crash.
  for (const std::string text :
       {"报名", "报名 abc", "报名 99999999999999999999", "取消报名 -1", "换班 #x", "接班 1 2", "签到 现在"}) {
    const auto reply = server.send(phone(1), text);
    ASSERT_FALSE(reply.empty()) << text;
    EXPECT_THAT(reply[0], Not(HasSubstr("成功"))) << text;
  }
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM vol_signups"), 0);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM vol_shifts"), 1);
  // A supervisor reads; only cadres write.
  Api supervisor(server, "supervisor");
  EXPECT_EQ(supervisor.call("POST", "/api/v1/volunteers/rota/preview", {{"from", 0}, {"to", 1}}).status, 403);
  // Every route is in the OpenAPI document, the writes with their request schemas.
  auto doc = cadre.call("GET", "/api/v1/openapi.json");
  ASSERT_EQ(doc.status, 200);
  for (const std::string p :
       {"/api/v1/volunteers/shifts", "/api/v1/volunteers/templates", "/api/v1/volunteers/rota/preview",
        "/api/v1/volunteers/rota/drafts/{id}", "/api/v1/volunteers/fairness", "/api/v1/volunteers/swaps",
        "/api/v1/volunteers/persons/{id}/unavailability", "/api/v1/volunteers/persons/{id}/record"})
    EXPECT_TRUE(doc.body["paths"].contains(p)) << p;
  EXPECT_TRUE(doc.body["paths"]["/api/v1/volunteers/shifts"]["post"].contains("requestBody"));
}

// The .ics feeds read back by a standard parser (python3-icalendar, installed by scripts/test.sh).
TEST(Volunteers, CalendarFeedsParseBackWithAStandardICalendarParser) {
  Clock clock;
  TestServer server(options(clock, 3));
  Api cadre(server, "cadre");
  std::vector<json> shifts;
  for (int d = 1; d <= 3; ++d) shifts.push_back(add_shift(cadre, "HS", local(clock, d, 7), local(clock, d, 9.5), 2));
  for (const auto& s : shifts)
    ASSERT_THAT(server.send(phone(1), "报名 " + std::to_string(s["id"].get<std::int64_t>())).at(0),
                HasSubstr("报名成功"));
  ASSERT_EQ(
      cadre.call("POST", "/api/v1/volunteers/shifts/" + std::to_string(shifts[2]["id"].get<std::int64_t>()) + "/cancel")
          .status,
      200);
  auto parse = [&](const std::string& path) {
    auto r = cadre.call("GET", path);
    EXPECT_EQ(r.status, 200) << r.raw;
    const auto file = server.dir() / "feed.ics";
    std::ofstream(file, std::ios::binary) << r.raw;
    const std::string cmd =
        "/usr/bin/python3 " VILLAGEBOT_SOURCE_DIR "/tests/plugins/volunteers/parse_ics.py " + file.string() + " 2>&1";
    std::string out;
    if (FILE* p = popen(cmd.c_str(), "r")) {
      char buf[4096];
      std::size_t n = 0;
      while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
      EXPECT_EQ(pclose(p), 0) << out;
    }
    const json j = json::parse(out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << "the parser said: " << out;
    return j;
  };
  const json mine = parse("/api/v1/volunteers/persons/2/calendar.ics");
  EXPECT_EQ(mine["name"], "志愿者1的值班");
  ASSERT_EQ(mine["events"].size(), 3u) << mine;
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& e = mine["events"][i];
    EXPECT_EQ(e["uid"], "shift-" + std::to_string(shifts[i]["id"].get<std::int64_t>()) + "@villagebot");
    EXPECT_EQ(e["summary"], "护水岗值班");
    EXPECT_EQ(e["location"], "河堤，东段; 闸口") << "escaped ; and , come back as written";
    // 07:00–09:30 village time is 23:00–01:30 UTC the day before.
    const auto start = shifts[i]["start_ms"].get<std::int64_t>() / 1000;
    char iso[40];
    const std::time_t t = start;
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
    EXPECT_EQ(e["start"], iso) << e;
    EXPECT_THAT(e["end"].get<std::string>(), HasSubstr("T01:30:00+00:00")) << e;
    EXPECT_EQ(e["status"], i == 2 ? "CANCELLED" : "CONFIRMED");
  }
  const json post = parse("/api/v1/volunteers/posts/HS/calendar.ics");
  EXPECT_EQ(post["name"], "护水岗");
  EXPECT_EQ(post["events"].size(), 3u);
}

}  // namespace
}  // namespace villagebot
