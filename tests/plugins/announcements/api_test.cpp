// The announcements plugin (通知公告) as a user notices it: the REST API under
// /api/v1/announcements/ plans, creates, schedules, cancels, lists and reports
// notices; every phone of the small village gets a notice once through a real
// (mock) gateway, in its own language and with its own name; 收到 is counted and
// exported; a repeated idempotency key, a restart or a repeated event from the
// points plugin never sends anything twice; bad requests store nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "mock_gateway.hpp"
#include "notices.hpp"
#include "runtime/job_scheduler.hpp"
#include "runtime/tokens.hpp"
#include "testkit.hpp"
#include "villagebot/i18n.hpp"

namespace villagebot {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using testkit::MockGateway;
using testkit::TestServer;
using steady = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

// ---------------------------------------------------------------------------
// Helpers

// The small village (testkit::kSmallVillageCsv): phones as the directory stores them.
struct Villager {
  const char* phone;
  const char* name;
};
constexpr Villager kVillage[] = {{"+8613800000001", "王大山"},
                                 {"+8613800000002", "王小红"},
                                 {"+8613800000003", "李四"},  // lang en
                                 {"+8613800000004", "赵五"},
                                 {"+8613800000009", "钱七"}};

constexpr const char* kMeetingTemplate =
    "[[plugins.announcements.templates]]\n"
    "code = \"meeting\"\n"
    "title = \"{topic}会议\"\n"
    "body = \"{name}您好：{date}晚上{time}在村委会开{topic}会议。\"\n"
    "body_en = \"Dear {name}: meeting on {topic} at {time}.\"\n";

template <typename Pred>
bool eventually(Pred&& pred, std::chrono::milliseconds timeout = 10s) {
  const auto end = steady::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (steady::now() >= end) return false;
    std::this_thread::sleep_for(20ms);
  }
}

// A clock the test moves forward: the scheduler's and the delivery engine's.
class TestClock {
 public:
  [[nodiscard]] std::function<std::chrono::system_clock::time_point()> fn() const {
    return [offset = offset_] { return std::chrono::system_clock::now() + std::chrono::seconds(offset->load()); };
  }
  void advance(std::chrono::seconds by) { offset_->fetch_add(by.count()); }
  [[nodiscard]] std::int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(fn()().time_since_epoch()).count();
  }

 private:
  std::shared_ptr<std::atomic<std::int64_t>> offset_ = std::make_shared<std::atomic<std::int64_t>>(0);
};

// A server with the given plugins whose generic adapter sends to the mock
// gateway; no SMS reminders (they would be a second message).
testkit::Options options_for(const MockGateway& gw, std::vector<std::string> plugins = {"announcements"},
                             std::string extra_toml = {},
                             std::function<std::chrono::system_clock::time_point()> now = {}) {
  testkit::Options o;
  o.plugins = std::move(plugins);
  o.adapter_toml = "reply_url = \"" + gw.url("/send") + "\"\n";
  o.plugin_sections = {{"announcements", "reminder_after_hours = 0\n"}};
  o.extra_toml = std::move(extra_toml);
  o.now = std::move(now);
  return o;
}

// j[key] when j is an object that has it; null otherwise.
json field(const json& j, const char* key) {
  return j.is_object() && j.contains(key) ? j[key] : json();
}

std::int64_t count_of(const json& counts, const char* key) {
  const json v = field(counts, key);
  return v.is_number_integer() ? v.get<std::int64_t>() : 0;
}

struct ApiReply {
  int status = 0;
  json body;         // discarded when the answer is not JSON (the CSV)
  std::string text;  // the answer as sent
  std::string raw;   // for failure messages
};

std::int64_t id_of(const ApiReply& r) {
  const json id = field(field(r.body, "notice"), "id");
  return id.is_number_integer() ? id.get<std::int64_t>() : 0;
}

// The API with a token of a role (and, for a cadre, the person it acts for).
class Api {
 public:
  Api(TestServer& server, const std::string& name, const std::string& role,
      std::optional<std::int64_t> acting_for = std::nullopt)
      : server_(server), token_(server.runtime().tokens().create(name, role, acting_for)) {}

  // Any route of the server with this token.
  ApiReply call_path(const std::string& method, const std::string& full_path, const std::string& body = {},
                     Headers headers = {}) {
    headers.emplace_back("Authorization", "Bearer " + token_);
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    const auto r = server_.request(method, full_path, body, std::move(headers));
    return ApiReply{r.status, json::parse(r.body, nullptr, false), r.body,
                    std::to_string(r.status) + " " + r.body + r.error};
  }
  // A route of the announcements API: "notices", "notices/3/recipients?page=2" ...
  ApiReply call(const std::string& method, const std::string& path, const std::string& body = {},
                Headers headers = {}) {
    return call_path(method, "/api/v1/announcements/" + path, body, std::move(headers));
  }
  // POST notices (query: "?dry_run=true" or "").
  ApiReply create(const json& body, const std::string& query = {}, Headers headers = {}) {
    return call("POST", "notices" + query, body.dump(), std::move(headers));
  }
  // POST notices that must answer 201; the new notice's id (0 on failure, reported).
  std::int64_t create_id(const json& body) {
    const auto r = create(body);
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.status == 201 ? id_of(r) : 0;
  }
  // GET notices/{id}: {notice, delivery, reminder}.
  json detail(std::int64_t id) {
    const auto r = call("GET", "notices/" + std::to_string(id));
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body;
  }

 private:
  TestServer& server_;
  std::string token_;
};

// The delivery's count of recipients in one status.
std::int64_t recipients_in(Api& api, std::int64_t id, const char* status) {
  return count_of(field(field(api.detail(id), "delivery"), "recipients"), status);
}

// Waits until the gateway took the notice for `n` persons (the outbox says sent).
bool wait_sent(Api& api, std::int64_t id, std::int64_t n) {
  return eventually([&] { return recipients_in(api, id, "sent") >= n; });
}

std::vector<std::string> texts_to(const MockGateway& gw, const std::string& recipient) {
  std::vector<std::string> out;
  for (const auto& m : gw.messages())
    if (m.recipient == recipient) out.push_back(m.text);
  return out;
}

// Messages the gateway accepted that contain `needle`.
std::size_t with_text(const MockGateway& gw, const std::string& needle) {
  std::size_t n = 0;
  for (const auto& m : gw.messages())
    if (m.text.find(needle) != std::string::npos) ++n;
  return n;
}

bool wait_for_text(const MockGateway& gw, const std::string& needle, std::size_t n) {
  return eventually([&] { return with_text(gw, needle) >= n; });
}

std::string joined(const std::vector<std::string>& replies) {
  std::string all;
  for (const auto& t : replies) all += t + "\n";
  return all;
}

std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  std::size_t from = 0;
  while (true) {
    const auto at = s.find(sep, from);
    if (at == std::string::npos) {
      out.push_back(s.substr(from));
      return out;
    }
    out.push_back(s.substr(from, at - from));
    from = at + sep.size();
  }
}

std::string url_encode(const std::string& s) {
  static const char* const kHex = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (std::isalnum(b) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0x0F];
    }
  }
  return out;
}

// 2026-11-29T00:00:00Z
std::string utc_rfc3339(std::int64_t unix_s) {
  const auto t = static_cast<std::time_t>(unix_s);
  std::tm parts{};
  gmtime_r(&t, &parts);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return buf;
}

std::int64_t person_id(TestServer& server, const std::string& phone) {
  return server.count("SELECT id FROM core_persons WHERE phone = '" + phone + "'");
}

const json kEveryone = {{"everyone", true}};
constexpr const char* kWaterBody = "明天上午8点到12点停水，请提前储水。";

json water_notice() {
  return {{"title", "停水通知"}, {"body", kWaterBody}, {"audience", kEveryone}};
}

// ---------------------------------------------------------------------------
// Planning and sending

TEST(AnnouncementsApi, DryRunPlansTheWholeVillageAndStoresNothing) {
  MockGateway gw;
  TestServer server(options_for(gw));
  Api admin(server, "ann-admin", "admin");

  auto r = admin.create(water_notice(), "?dry_run=true");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["dry_run"], true);
  EXPECT_EQ(r.body["plan"]["persons"], 5) << r.raw;
  EXPECT_EQ(r.body["plan"]["personal_chats"], 5) << r.raw;
  EXPECT_EQ(r.body["plan"]["unreachable"], 0) << r.raw;
  EXPECT_FALSE(r.body.contains("notice")) << r.raw;

  // The longest body (2000 bytes) plans too; one byte more is refused, also in a dry run.
  json longest = water_notice();
  longest["body"] = std::string(2000, 'x');
  EXPECT_EQ(admin.create(longest, "?dry_run=true").status, 200);
  json too_long = water_notice();
  too_long["body"] = std::string(2001, 'x');
  EXPECT_EQ(admin.create(too_long, "?dry_run=true").status, 422);

  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM ann_notices"), 0);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_broadcasts"), 0);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_outbox"), 0);
  EXPECT_EQ(gw.accepted(), 0u);
  auto list = admin.call("GET", "notices");
  ASSERT_EQ(list.status, 200) << list.raw;
  EXPECT_EQ(list.body["total"], 0);
}

TEST(AnnouncementsApi, NoticeReachesEveryPhoneOnceAndAcknowledgementsAreCountedAndExported) {
  MockGateway gw;
  TestServer server(options_for(gw));
  Api admin(server, "ann-admin", "admin");
  Api supervisor(server, "ann-sup", "supervisor");

  auto created = admin.create(water_notice());
  ASSERT_EQ(created.status, 201) << created.raw;
  const std::int64_t id = id_of(created);
  ASSERT_GT(id, 0);
  EXPECT_EQ(created.body["notice"]["status"], "sent");
  EXPECT_EQ(created.body["notice"]["ask_ack"], true);
  EXPECT_EQ(created.body["notice"]["title"], "停水通知");
  EXPECT_EQ(created.body["plan"]["persons"], 5) << created.raw;

  ASSERT_TRUE(gw.wait_for_accepted(5));
  ASSERT_TRUE(wait_sent(admin, id, 5));
  std::this_thread::sleep_for(200ms);  // nothing more may come
  EXPECT_EQ(gw.accepted(), 5u);
  for (const auto& v : kVillage) {
    const auto texts = texts_to(gw, v.phone);
    ASSERT_EQ(texts.size(), 1u) << v.phone;
    EXPECT_THAT(texts[0], StartsWith("【通知】停水通知\n")) << v.phone;
    EXPECT_THAT(texts[0], HasSubstr(kWaterBody)) << v.phone;
    EXPECT_THAT(texts[0], HasSubstr("请回复「收到」确认")) << v.phone;
  }

  json d = admin.detail(id);
  EXPECT_EQ(d["notice"]["id"], id);
  EXPECT_EQ(d["delivery"]["persons"], 5) << d.dump();
  EXPECT_EQ(d["delivery"]["acknowledged"], 0) << d.dump();
  EXPECT_TRUE(d["reminder"].is_null()) << d.dump();

  // Two villagers reply 收到: it names the notice they confirmed.
  EXPECT_THAT(joined(server.send("13800000001", "收到")), HasSubstr("停水通知"));
  EXPECT_THAT(joined(server.send("13800000003", "收到")), HasSubstr("停水通知"));
  d = admin.detail(id);
  EXPECT_EQ(d["delivery"]["persons"], 5) << d.dump();
  EXPECT_EQ(d["delivery"]["acknowledged"], 2) << d.dump();
  EXPECT_EQ(count_of(d["delivery"]["recipients"], "acknowledged"), 2) << d.dump();
  EXPECT_EQ(count_of(d["delivery"]["recipients"], "sent"), 3) << d.dump();

  const std::string base = "notices/" + std::to_string(id);
  auto pending = admin.call("GET", base + "/recipients?acknowledged=false");
  ASSERT_EQ(pending.status, 200) << pending.raw;
  EXPECT_EQ(pending.body["total"], 3) << pending.raw;
  std::set<std::string> not_yet;
  for (auto& item : pending.body["items"]) not_yet.insert(item["name"].get<std::string>());
  EXPECT_EQ(not_yet, (std::set<std::string>{"王小红", "赵五", "钱七"}));

  auto confirmed = admin.call("GET", base + "/recipients?acknowledged=true");
  ASSERT_EQ(confirmed.status, 200) << confirmed.raw;
  EXPECT_EQ(confirmed.body["total"], 2) << confirmed.raw;
  ASSERT_EQ(confirmed.body["items"].size(), 2u) << confirmed.raw;
  bool saw_wang = false;
  for (auto& item : confirmed.body["items"]) {
    EXPECT_EQ(item["status"], "acknowledged") << item.dump();
    EXPECT_EQ(item["via"], "personal") << item.dump();
    EXPECT_TRUE(item["acked_at_ms"].is_number_integer()) << item.dump();
    if (item["name"] == "王大山") {
      saw_wang = true;
      EXPECT_EQ(item["household"], "H001") << item.dump();
      EXPECT_EQ(item["phone"], "+8613800000001") << "an admin sees phones in full: " << item.dump();
    }
  }
  EXPECT_TRUE(saw_wang) << confirmed.raw;
  EXPECT_EQ(admin.call("GET", base + "/recipients?status=acknowledged").body["total"], 2);
  auto last_page = admin.call("GET", base + "/recipients?per_page=2&page=3");
  EXPECT_EQ(last_page.body["total"], 5) << last_page.raw;
  EXPECT_EQ(last_page.body["items"].size(), 1u) << last_page.raw;

  // A supervisor reads the same list with masked phones.
  auto masked = supervisor.call("GET", base + "/recipients?acknowledged=true");
  ASSERT_EQ(masked.status, 200) << masked.raw;
  EXPECT_THAT(masked.text, HasSubstr("138****0001"));
  EXPECT_THAT(masked.text, Not(HasSubstr("13800000001")));

  // The CSV: BOM, header, one CRLF line per recipient; two confirmed with a time.
  auto csv = admin.call("GET", base + "/acknowledgements.csv");
  ASSERT_EQ(csv.status, 200) << csv.raw;
  EXPECT_EQ(csv.text.rfind("\xEF\xBB\xBF户号,姓名,手机,渠道,状态,确认时间\r\n", 0), 0u) << csv.text;
  const auto lines = split(csv.text, "\r\n");
  ASSERT_EQ(lines.size(), 7u) << csv.text;  // header, 5 rows, "" after the last CRLF
  EXPECT_EQ(lines.back(), "");
  int acknowledged_rows = 0;
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    const auto cells = split(lines[i], ",");
    ASSERT_EQ(cells.size(), 6u) << lines[i];
    EXPECT_EQ(cells[3], "私聊") << lines[i];
    if (cells[4] == "已确认") {
      ++acknowledged_rows;
      EXPECT_TRUE(cells[1] == "王大山" || cells[1] == "李四") << lines[i];
      ASSERT_EQ(cells[5].size(), 16u) << "YYYY-MM-DD HH:MM: " << lines[i];
      EXPECT_EQ(cells[5][4], '-') << lines[i];
      EXPECT_EQ(cells[5][10], ' ') << lines[i];
    } else {
      EXPECT_EQ(cells[4], "已发出") << lines[i];
      EXPECT_EQ(cells[5], "") << lines[i];
    }
    if (cells[1] == "王大山") {
      EXPECT_EQ(cells[0], "H001") << lines[i];
      EXPECT_THAT(cells[2], HasSubstr("+8613800000001")) << lines[i];
    }
  }
  EXPECT_EQ(acknowledged_rows, 2) << csv.text;
  auto only_confirmed = admin.call("GET", base + "/acknowledgements.csv?acknowledged=true");
  ASSERT_EQ(only_confirmed.status, 200);
  EXPECT_EQ(split(only_confirmed.text, "\r\n").size(), 4u) << only_confirmed.text;

  auto masked_csv = supervisor.call("GET", base + "/acknowledgements.csv");
  ASSERT_EQ(masked_csv.status, 200) << masked_csv.raw;
  EXPECT_THAT(masked_csv.text, HasSubstr(",138****0001,"));
  for (const auto& v : kVillage)
    EXPECT_THAT(masked_csv.text, Not(HasSubstr(std::string(v.phone).substr(3)))) << "a supervisor sees masked phones";
}

TEST(AnnouncementsApi, TheSameIdempotencyKeyAnswersTheFirstNoticeAndSendsOnce) {
  MockGateway gw;
  TestServer server(options_for(gw));
  Api admin(server, "ann-admin", "admin");

  const json fire = {{"title", "防火通知"},
                     {"body", "秋冬季节严禁野外用火。"},
                     {"audience", kEveryone},
                     {"idempotency_key", "fire-2026"}};
  auto first = admin.create(fire);
  ASSERT_EQ(first.status, 201) << first.raw;
  const auto id = id_of(first);
  ASSERT_GT(id, 0);
  auto again = admin.create(fire);
  EXPECT_EQ(again.status, 200) << again.raw;
  EXPECT_EQ(id_of(again), id);
  json changed = fire;
  changed["body"] = "另一段文字。";
  auto third = admin.create(changed);
  EXPECT_EQ(third.status, 200) << third.raw;
  EXPECT_EQ(id_of(third), id);
  EXPECT_EQ(third.body["notice"]["body"], "秋冬季节严禁野外用火。") << "the first notice, as it was";

  // The Idempotency-Key header works the same way.
  const json flood = {{"title", "防汛通知"}, {"body", "今晚有暴雨，请低洼处住户注意安全。"}, {"audience", kEveryone}};
  auto by_header = admin.create(flood, {}, {{"Idempotency-Key", "flood-1"}});
  ASSERT_EQ(by_header.status, 201) << by_header.raw;
  const auto flood_id = id_of(by_header);
  EXPECT_NE(flood_id, id);
  auto by_header_again = admin.create(flood, {}, {{"Idempotency-Key", "flood-1"}});
  EXPECT_EQ(by_header_again.status, 200) << by_header_again.raw;
  EXPECT_EQ(id_of(by_header_again), flood_id);

  EXPECT_EQ(server.count("SELECT COUNT(*) FROM ann_notices"), 2);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_broadcasts"), 2);
  ASSERT_TRUE(gw.wait_for_accepted(10));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(gw.accepted(), 10u);
  for (const auto& v : kVillage) EXPECT_EQ(texts_to(gw, v.phone).size(), 2u) << v.phone;
  EXPECT_EQ(with_text(gw, "严禁野外用火"), 5u);
  EXPECT_EQ(with_text(gw, "暴雨"), 5u);
  EXPECT_EQ(with_text(gw, "另一段文字"), 0u);
}

TEST(AnnouncementsApi, ScheduledNoticeWaitsForItsTimeAndACancelledOneNeverGoes) {
  MockGateway gw;
  TestClock fake_clock;
  TestServer server(options_for(gw, {"announcements"}, {}, fake_clock.fn()));
  Api admin(server, "ann-admin", "admin");

  const std::int64_t in_an_hour = fake_clock.now_ms() + 3600 * 1000;
  auto meeting = admin.create({{"title", "村民大会"},
                               {"body", "本周六上午9点在村委会召开村民大会。"},
                               {"audience", kEveryone},
                               {"scheduled_at", in_an_hour}});
  ASSERT_EQ(meeting.status, 201) << meeting.raw;
  const auto meeting_id = id_of(meeting);
  EXPECT_EQ(meeting.body["notice"]["status"], "scheduled");
  EXPECT_EQ(meeting.body["notice"]["scheduled_at_ms"], in_an_hour);
  EXPECT_TRUE(meeting.body["notice"]["broadcast_id"].is_null()) << meeting.raw;
  EXPECT_TRUE(meeting.body["plan"].is_null()) << meeting.raw;

  // A second one, its time in RFC 3339 (UTC), half an hour ahead.
  const std::int64_t half_hour_s = fake_clock.now_ms() / 1000 + 1800;
  auto election = admin.create({{"title", "选举公告"},
                                {"body", "村委会换届选举定于下月举行。"},
                                {"audience", kEveryone},
                                {"scheduled_at", utc_rfc3339(half_hour_s)}});
  ASSERT_EQ(election.status, 201) << election.raw;
  const auto election_id = id_of(election);
  EXPECT_EQ(election.body["notice"]["status"], "scheduled");
  EXPECT_EQ(election.body["notice"]["scheduled_at_ms"], half_hour_s * 1000);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_jobs WHERE kind = 'announcements.send' AND status = 'pending'"), 2);

  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(gw.accepted(), 0u) << "nothing before its time";
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_broadcasts"), 0);
  json d = admin.detail(meeting_id);
  EXPECT_EQ(d["notice"]["status"], "scheduled");
  EXPECT_TRUE(d["delivery"].is_null()) << d.dump();

  // Cancelled before its time; a second cancel is a conflict.
  auto cancelled = admin.call("DELETE", "notices/" + std::to_string(meeting_id));
  ASSERT_EQ(cancelled.status, 200) << cancelled.raw;
  EXPECT_EQ(cancelled.body["status"], "cancelled");
  EXPECT_EQ(cancelled.body["cancelled_by"], "ann-admin");
  EXPECT_TRUE(cancelled.body["cancelled_at_ms"].is_number_integer()) << cancelled.raw;
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_jobs WHERE kind = 'announcements.send' AND status = 'pending'"), 1);
  auto twice = admin.call("DELETE", "notices/" + std::to_string(meeting_id));
  EXPECT_EQ(twice.status, 409) << twice.raw;
  EXPECT_EQ(field(field(twice.body, "error"), "code"), "conflict") << twice.raw;

  // Unknown notices.
  EXPECT_EQ(admin.call("DELETE", "notices/999999").status, 404);
  EXPECT_EQ(admin.call("GET", "notices/999999").status, 404);
  EXPECT_EQ(admin.call("GET", "notices/abc").status, 404);
  EXPECT_EQ(admin.call("GET", "notices/999999/recipients").status, 404);
  EXPECT_EQ(admin.call("GET", "notices/999999/acknowledgements.csv").status, 404);

  // Two hours later: the election notice goes out, the cancelled meeting does not.
  fake_clock.advance(2h);
  server.poke_scheduler();
  ASSERT_TRUE(gw.wait_for_accepted(5));
  ASSERT_TRUE(eventually([&] { return admin.detail(election_id)["notice"]["status"] == "sent"; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(gw.accepted(), 5u);
  EXPECT_EQ(with_text(gw, "换届选举"), 5u);
  EXPECT_EQ(with_text(gw, "村民大会"), 0u);
  EXPECT_EQ(admin.detail(meeting_id)["notice"]["status"], "cancelled");
  EXPECT_EQ(admin.call("GET", "notices?status=cancelled").body["total"], 1);
  EXPECT_EQ(admin.call("GET", "notices?status=sent").body["total"], 1);
}

TEST(AnnouncementsApi, TemplatesAreFilledPerRecipientInTheirLanguage) {
  MockGateway gw;
  TestServer server(options_for(gw, {"announcements"}, kMeetingTemplate));
  Api admin(server, "ann-admin", "admin");
  Api supervisor(server, "ann-sup", "supervisor");

  auto templates = supervisor.call("GET", "templates");
  ASSERT_EQ(templates.status, 200) << templates.raw;
  ASSERT_EQ(templates.body["items"].size(), 1u) << templates.raw;
  EXPECT_EQ(templates.body["items"][0]["code"], "meeting");
  EXPECT_EQ(templates.body["items"][0]["title"], "{topic}会议");
  EXPECT_EQ(templates.body["items"][0]["body_en"], "Dear {name}: meeting on {topic} at {time}.");

  // A variable without a value, and a template that does not exist.
  auto missing = admin.create({{"template", "meeting"}, {"variables", {{"topic", "防汛"}}}, {"audience", kEveryone}});
  EXPECT_EQ(missing.status, 422) << missing.raw;
  EXPECT_THAT(missing.text, HasSubstr("{time}"));
  auto unknown = admin.create({{"template", "harvest"}, {"variables", {{"topic", "防汛"}}}, {"audience", kEveryone}});
  EXPECT_EQ(unknown.status, 422) << unknown.raw;
  EXPECT_THAT(unknown.text, HasSubstr("harvest"));
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM ann_notices"), 0);

  auto r = admin.create(
      {{"template", "meeting"}, {"variables", {{"topic", "防汛"}, {"time", "8点"}}}, {"audience", kEveryone}});
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["notice"]["title"], "防汛会议");
  EXPECT_EQ(r.body["notice"]["category"], "通知");

  ASSERT_TRUE(gw.wait_for_accepted(5));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(gw.accepted(), 5u);
  for (const auto& v : kVillage) {
    const auto texts = texts_to(gw, v.phone);
    ASSERT_EQ(texts.size(), 1u) << v.phone;
    const std::string& msg = texts[0];
    EXPECT_THAT(msg, Not(HasSubstr("{"))) << "every variable filled: " << msg;
    if (std::string(v.phone) == "+8613800000003") {
      EXPECT_EQ(msg, "[Notice] 防汛会议\nDear 李四: meeting on 防汛 at 8点.\nReply OK to confirm you received it.");
      continue;
    }
    EXPECT_THAT(msg, StartsWith("【通知】防汛会议\n" + std::string(v.name) + "您好：")) << msg;
    EXPECT_THAT(msg, HasSubstr("日晚上8点在村委会开防汛会议。")) << msg;
    EXPECT_THAT(msg, EndsWith("请回复「收到」确认。")) << msg;
    EXPECT_THAT(msg, Not(HasSubstr("Dear"))) << msg;
    for (const auto& other : kVillage) {
      if (std::string(other.phone) != v.phone) {
        EXPECT_THAT(msg, Not(HasSubstr(other.name))) << msg;
      }
    }
  }
}

TEST(AnnouncementsApi, BadRequestsAreRefusedAndStoreNothing) {
  MockGateway gw;
  TestServer server(options_for(gw));
  Api admin(server, "ann-admin", "admin");

  auto refused = [&](const std::string& raw_body, int status, const std::string& mentions) {
    auto r = admin.call("POST", "notices", raw_body);
    EXPECT_EQ(r.status, status) << raw_body << " -> " << r.raw;
    const std::string code = status == 400 ? "bad_request" : "invalid";
    EXPECT_EQ(field(field(r.body, "error"), "code"), code) << raw_body << " -> " << r.raw;
    if (!mentions.empty()) {
      EXPECT_THAT(r.text, HasSubstr(mentions)) << raw_body;
    }
  };
  auto with = [](const char* key, const json& value) {
    json body = {{"title", "通知"}, {"body", "明天停水。"}, {"audience", kEveryone}};
    body[key] = value;
    return body.dump();
  };

  refused("{\"body\": \"明天停水\", ", 400, "");
  // Invalid UTF-8 (a raw 0xFF byte) cannot be parsed as JSON at all.
  refused(std::string("{\"body\":\"明天停水") + "\xff" + "\",\"audience\":{\"everyone\":true}}", 400, "");
  refused("[1, 2]", 422, "");
  refused(with("colour", "red"), 422, "colour");
  refused(json{{"body", "明天停水。"}}.dump(), 422, "audience");
  refused(with("audience", json::object()), 422, "audience");
  refused(with("audience", {{"village", "all"}}), 422, "audience");
  refused(json{{"audience", kEveryone}}.dump(), 422, "body");
  refused(with("body", "   "), 422, "body");
  refused(with("body", std::string(3000, 'x')), 422, "2000");
  refused(with("title", std::string(201, 'x')), 422, "title");
  refused(with("policy", "carrier_pigeon"), 422, "policy");
  refused(with("priority", "high"), 422, "priority");
  refused(with("ask_ack", "yes"), 422, "ask_ack");
  refused(with("scheduled_at", "tomorrow"), 422, "scheduled_at");
  const std::int64_t two_years_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count() +
      2LL * 366 * 24 * 3600 * 1000;
  refused(with("scheduled_at", two_years_ms), 422, "scheduled_at");
  refused(with("expires_at", 1000), 422, "expires_at");
  refused(with("reminder_after_hours", 1000), 422, "reminder_after_hours");
  refused(with("variables", "topic"), 422, "variables");

  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM ann_notices"), 0);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_broadcasts"), 0);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_jobs WHERE kind IN ('announcements.send', 'announcements.remind')"),
            0);
  EXPECT_EQ(gw.accepted(), 0u);
}

TEST(AnnouncementsNotices, InvalidUtf8IsRefusedBeforeAnythingIsStored) {
  // Over HTTP the JSON parser already refuses such bytes (above); a notice from
  // another plugin's event reaches this check.
  MockGateway gw;
  TestServer server(options_for(gw));
  auto& rt = server.runtime();
  announcements::Notices notices(rt.storage(), rt.messenger(), rt.scheduler(), rt.directory(),
                                 announcements::NoticesOptions{});
  auto refusal = [&notices](announcements::NoticeDraft draft) -> std::string {
    try {
      notices.validate(draft);
    } catch (const announcements::NoticeError& e) {
      return e.code() + ": " + e.in(Lang::en);
    }
    return "accepted";
  };

  announcements::NoticeDraft good;
  good.body = "明天停水。";
  good.audience.everyone = true;
  EXPECT_EQ(refusal(good), "accepted");

  announcements::NoticeDraft bad_body = good;
  bad_body.body = std::string("明天停水") + "\xff";
  EXPECT_EQ(refusal(bad_body), "invalid: body is not UTF-8");
  announcements::NoticeDraft bad_title = good;
  bad_title.title = std::string("停水") + "\xe6\x98";  // a character cut in half
  EXPECT_EQ(refusal(bad_title), "invalid: title is not UTF-8");
  announcements::NoticeDraft bad_english = good;
  bad_english.body_en = std::string("Water ") + "\xc3\x28";
  EXPECT_EQ(refusal(bad_english), "invalid: body_en is not UTF-8");

  EXPECT_THROW(notices.create(bad_body), announcements::NoticeError);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM ann_notices"), 0);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_broadcasts"), 0);
}

TEST(AnnouncementsApi, OnlyAdminsAndCadresWithinTheirUnitsMayNotify) {
  MockGateway gw;
  TestServer server(options_for(gw));
  const json harvest = {{"title", "秋收通知"}, {"body", "请各户抓紧秋收，注意防火。"}, {"audience", kEveryone}};

  EXPECT_EQ(
      server.request("POST", "/api/v1/announcements/notices", harvest.dump(), {{"Content-Type", "application/json"}})
          .status,
      401);
  Api villager(server, "ann-vil", "villager");
  EXPECT_EQ(villager.create(harvest).status, 403);
  EXPECT_EQ(villager.call("GET", "notices").status, 403);
  Api supervisor(server, "ann-sup", "supervisor");
  EXPECT_EQ(supervisor.create(harvest).status, 403) << "a supervisor reads, does not send";
  EXPECT_EQ(supervisor.call("GET", "notices").status, 200);

  // 王小红 answers for 一组: the whole village is out of her scope, 一组 is not.
  const auto cadre_person = person_id(server, "+8613800000002");
  ASSERT_GT(cadre_person, 0);
  Api cadre(server, "ann-cadre", "cadre", cadre_person);
  auto outside = cadre.create(harvest);
  EXPECT_EQ(outside.status, 403) << outside.raw;
  EXPECT_EQ(field(field(outside.body, "error"), "code"), "out_of_scope") << outside.raw;
  EXPECT_THAT(outside.text, HasSubstr("一组"));
  EXPECT_EQ(cadre.create(harvest, "?dry_run=true").status, 403);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM ann_notices"), 0);

  const auto yizu = server.count("SELECT id FROM core_org_units WHERE path = '一组'");
  ASSERT_GT(yizu, 0);
  json mine = harvest;
  mine["audience"] = {{"org_units", json::array({yizu})}};
  auto inside = cadre.create(mine);
  ASSERT_EQ(inside.status, 201) << inside.raw;
  EXPECT_EQ(inside.body["plan"]["persons"], 2) << inside.raw;
  ASSERT_TRUE(gw.wait_for_accepted(2));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(gw.accepted(), 2u);
  EXPECT_EQ(gw.accepted_for("+8613800000001"), 1u);
  EXPECT_EQ(gw.accepted_for("+8613800000002"), 1u);
  EXPECT_EQ(gw.accepted_for("+8613800000003"), 0u);

  // The cadre may not cancel the admin's notice to the whole village, only her own.
  Api admin(server, "ann-admin", "admin");
  const auto village_id = admin.create_id(harvest);
  ASSERT_GT(village_id, 0);
  EXPECT_EQ(cadre.call("DELETE", "notices/" + std::to_string(village_id)).status, 403);
  EXPECT_EQ(admin.detail(village_id)["notice"]["status"], "sent");
  auto own = cadre.call("DELETE", "notices/" + std::to_string(id_of(inside)));
  EXPECT_EQ(own.status, 200) << own.raw;
  EXPECT_EQ(own.body["status"], "cancelled");
}

TEST(AnnouncementsApi, ListFiltersByCategoryAndStatusAndPages) {
  MockGateway gw;
  TestServer server(options_for(gw));
  Api admin(server, "ann-admin", "admin");
  Api supervisor(server, "ann-sup", "supervisor");

  const auto power = admin.create_id({{"body", "第一条：明天停电。"}, {"audience", kEveryone}});
  const auto water = admin.create_id({{"body", "第二条：后天停水。"}, {"audience", kEveryone}});
  const auto road = admin.create_id({{"category", "决议公开"},
                                     {"title", "修路决议"},
                                     {"body", "村民代表会议决定硬化二组道路。"},
                                     {"ask_ack", false},
                                     {"audience", kEveryone}});
  ASSERT_TRUE(power > 0 && water > 0 && road > 0);

  auto all = supervisor.call("GET", "notices");
  ASSERT_EQ(all.status, 200) << all.raw;
  EXPECT_EQ(all.body["total"], 3);
  ASSERT_EQ(all.body["items"].size(), 3u);
  EXPECT_EQ(all.body["items"][0]["id"], road) << "newest first";
  EXPECT_EQ(all.body["items"][1]["id"], water);
  EXPECT_EQ(all.body["items"][2]["id"], power);
  EXPECT_EQ(all.body["items"][2]["title"], "第一条：明天停电。") << "no title: the start of the body";

  auto decisions = supervisor.call("GET", "notices?category=" + url_encode("决议公开"));
  ASSERT_EQ(decisions.status, 200) << decisions.raw;
  EXPECT_EQ(decisions.body["total"], 1);
  ASSERT_EQ(decisions.body["items"].size(), 1u);
  EXPECT_EQ(decisions.body["items"][0]["id"], road);
  EXPECT_EQ(decisions.body["items"][0]["ask_ack"], false);

  auto second_page = supervisor.call("GET", "notices?per_page=1&page=2");
  EXPECT_EQ(second_page.body["total"], 3);
  ASSERT_EQ(second_page.body["items"].size(), 1u) << second_page.raw;
  EXPECT_EQ(second_page.body["items"][0]["id"], water);
  EXPECT_EQ(supervisor.call("GET", "notices?status=scheduled").body["total"], 0);
  EXPECT_EQ(supervisor.call("GET", "notices?status=sent").body["total"], 3);

  // What villagers read: the title is not repeated when the body starts with it;
  // a notice that does not ask for 收到 does not say so.
  ASSERT_TRUE(gw.wait_for_accepted(15));
  EXPECT_EQ(texts_to(gw, "+8613800000001").size(), 3u);
  EXPECT_EQ(with_text(gw, "【通知】第一条：明天停电。\n请回复「收到」确认。"), 5u);
  EXPECT_EQ(with_text(gw, "【决议公开】修路决议\n村民代表会议决定硬化二组道路。"), 5u);
  for (const auto& m : gw.messages()) {
    if (m.text.find("修路") != std::string::npos) {
      EXPECT_THAT(m.text, Not(HasSubstr("收到"))) << m.text;
    }
  }
}

// ---------------------------------------------------------------------------
// Notices from other plugins (the event bus) and restarts

TEST(AnnouncementsEvents, NoticesFromPointsArriveOnceAndDoNotTakeOverTheAcknowledgement) {
  MockGateway gw;
  TestServer server(options_for(gw, {"points", "announcements"}));
  Api admin(server, "ann-admin", "admin");
  Api supervisor(server, "ann-sup", "supervisor");

  // A notice that asks for 收到.
  const auto asked =
      admin.create_id({{"title", "秋收通知"}, {"body", "请各户抓紧秋收，注意防火。"}, {"audience", kEveryone}});
  ASSERT_GT(asked, 0);
  ASSERT_TRUE(wait_for_text(gw, "抓紧秋收", 5));
  ASSERT_TRUE(wait_sent(admin, asked, 5));

  // The points plugin's monthly 红榜 job publishes announcements.notice; it runs twice.
  auto& scheduler = server.runtime().scheduler();
  scheduler.schedule_at("points.red_list", std::chrono::system_clock::now(), json::object(),
                        Scheduler::Missed::fire_late);
  ASSERT_TRUE(
      eventually([&] { return server.count("SELECT COUNT(*) FROM ann_notices WHERE category = '红榜'") == 1; }));
  ASSERT_TRUE(wait_for_text(gw, "【红榜】", 5));
  scheduler.schedule_at("points.red_list", std::chrono::system_clock::now(), json::object(),
                        Scheduler::Missed::fire_late);
  ASSERT_TRUE(eventually([&] {
    return server.count(
               "SELECT COUNT(*) FROM core_jobs WHERE kind = 'points.red_list' AND status = 'pending' AND "
               "(cron IS NULL OR cron = '')") == 0;
  }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM ann_notices WHERE category = '红榜'"), 1);
  EXPECT_EQ(with_text(gw, "【红榜】"), 5u) << "the same event twice is sent once";

  auto red_list = admin.call("GET", "notices?category=" + url_encode("红榜"));
  ASSERT_EQ(red_list.status, 200) << red_list.raw;
  ASSERT_EQ(red_list.body["total"], 1) << red_list.raw;
  json red = red_list.body["items"][0];
  EXPECT_EQ(red["category"], "红榜");
  EXPECT_EQ(red["ask_ack"], false);
  EXPECT_EQ(red["source"], "points");
  EXPECT_EQ(red["status"], "sent");
  const auto red_id = red["id"].get<std::int64_t>();
  for (const auto& m : gw.messages()) {
    if (m.text.find("【红榜】") != std::string::npos) {
      EXPECT_THAT(m.text, Not(HasSubstr("请回复「收到」确认"))) << m.text;
    }
  }

  // 收到 after the 红榜 still confirms the notice that asked for it.
  EXPECT_THAT(joined(server.send("13800000001", "收到")), HasSubstr("秋收通知"));
  EXPECT_EQ(admin.detail(asked)["delivery"]["acknowledged"], 1);
  EXPECT_EQ(admin.detail(red_id)["delivery"]["acknowledged"], 0);

  // The ledger checkpoint (两公开), published twice with the same head hash: one notice.
  for (int i = 0; i < 2; ++i) {
    auto cp = supervisor.call_path("POST", "/api/v1/points/checkpoint");
    ASSERT_EQ(cp.status, 200) << cp.raw;
  }
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM ann_notices WHERE category = '两公开'"), 1);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM ann_notices"), 3);
  ASSERT_TRUE(wait_for_text(gw, "积分台账校验", 5));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(with_text(gw, "积分台账校验"), 5u);
}

TEST(AnnouncementsApi, RestartKeepsNoticesAndSendsNothingTwice) {
  MockGateway gw;
  TestClock fake_clock;
  TestServer server(options_for(gw, {"announcements"}, {}, fake_clock.fn()));
  Api admin(server, "ann-admin", "admin");

  const auto sent = admin.create_id(water_notice());
  ASSERT_GT(sent, 0);
  ASSERT_TRUE(gw.wait_for_accepted(5));
  ASSERT_TRUE(wait_sent(admin, sent, 5));
  const auto later = admin.create_id({{"title", "村民大会"},
                                      {"body", "本周六上午9点在村委会召开村民大会。"},
                                      {"audience", kEveryone},
                                      {"scheduled_at", fake_clock.now_ms() + 3600 * 1000}});
  ASSERT_GT(later, 0);

  server.restart();
  auto list = admin.call("GET", "notices");
  ASSERT_EQ(list.status, 200) << list.raw;
  EXPECT_EQ(list.body["total"], 2) << list.raw;
  ASSERT_EQ(list.body["items"].size(), 2u) << list.raw;
  EXPECT_EQ(list.body["items"][0]["id"], later);
  EXPECT_EQ(list.body["items"][0]["status"], "scheduled");
  EXPECT_EQ(list.body["items"][1]["id"], sent);
  EXPECT_EQ(list.body["items"][1]["status"], "sent");
  EXPECT_EQ(admin.detail(sent)["delivery"]["persons"], 5);

  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(gw.accepted(), 5u) << "a restart sends nothing again";
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_broadcasts"), 1);

  // The scheduled one's time comes after the restart: it goes out, once.
  fake_clock.advance(2h);
  server.poke_scheduler();
  ASSERT_TRUE(gw.wait_for_accepted(10));
  ASSERT_TRUE(eventually([&] { return admin.detail(later)["notice"]["status"] == "sent"; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(gw.accepted(), 10u);
  for (const auto& v : kVillage) EXPECT_EQ(gw.accepted_for(v.phone), 2u) << v.phone;
  EXPECT_EQ(with_text(gw, kWaterBody), 5u);
  EXPECT_EQ(with_text(gw, "村民大会"), 5u);
}

}  // namespace
}  // namespace villagebot
