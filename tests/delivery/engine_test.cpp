// The delivery engine (issue 4) as a user notices it: broadcasts through the
// admin API reach every phone once through a real (mock) gateway, survive 500s,
// timeouts and a restart, honour Retry-After, put emergencies first, hold SMS
// during quiet hours, respect opt-out, plan group posts / SMS segments / cost,
// and stop when cancelled.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "delivery/engine.hpp"
#include "directory/people_import.hpp"
#include "directory/sqlite_directory.hpp"
#include "mock_gateway.hpp"
#include "runtime/tokens.hpp"
#include "storage/core_schema.hpp"
#include "storage/sqlite_storage.hpp"
#include "support/metrics.hpp"
#include "testkit.hpp"

namespace villagebot {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;
using testkit::MockGateway;
using testkit::TestServer;
using steady = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// Helpers

template <typename Pred>
bool eventually(Pred&& pred, std::chrono::milliseconds timeout = 10s) {
  const auto end = steady::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (steady::now() >= end) return false;
    std::this_thread::sleep_for(20ms);
  }
}

// The phone of generated person i, as the directory stores it (E.164).
std::string phone_of(int i) {
  return "+86" + std::to_string(13900000000LL + i);
}

// A village of `persons` people in households of three, alternately in 一组 and 二组.
std::string village_csv(int persons) {
  std::string csv = "户号,户主,姓名,手机,村民小组,角色,企业微信,钉钉,飞书,telegram,语言,中心户,负责\n";
  for (int i = 0; i < persons; ++i) {
    const int h = i / 3;
    char code[16];
    std::snprintf(code, sizeof code, "H%05d", h);
    const std::string head = "户主" + std::to_string(h);
    csv += std::string(code) + "," + head + "," + (i % 3 == 0 ? head : "村民" + std::to_string(i)) + "," +
           std::to_string(13900000000LL + i) + "," + (h % 2 == 0 ? "一组" : "二组") + ",村民,,,,,,,\n";
  }
  return csv;
}

std::size_t utf8_chars(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

// `n` Chinese characters of a plausible notice.
std::string chinese_text(std::size_t n) {
  static const std::string kPhrase = "村委会通知明天上午九点在村部召开全体村民大会请准时参加";
  std::string out;
  std::size_t i = 0;
  while (utf8_chars(out) < n) {
    out += kPhrase.substr(i * 3, 3);
    i = (i + 1) % utf8_chars(kPhrase);
  }
  return out;
}

constexpr const char* kFastRetries = "[delivery]\nretry_base_ms = 20\nretry_max_ms = 200\nmax_attempts = 12\n";

std::string reply_url_toml(const MockGateway& gw, const std::string& path = "/send") {
  return "reply_url = \"" + gw.url(path) + "\"\n";
}

// A plugin-free server whose generic adapter has these extra keys.
testkit::Options server_options(const std::string& adapter_toml, const std::string& extra_toml = {},
                                const std::string& people_csv = testkit::kSmallVillageCsv) {
  testkit::Options o;
  o.adapter_toml = adapter_toml;
  o.extra_toml = extra_toml;
  o.people_csv = people_csv;
  return o;
}

SendOptions send_options(Priority priority, bool essential) {
  SendOptions o;
  o.priority = priority;
  o.essential = essential;
  return o;
}

struct ApiReply {
  int status = 0;
  json body;
  std::string raw;
};

// The admin API with an admin token.
class AdminApi {
 public:
  explicit AdminApi(TestServer& server) : server_(server), token_(server.runtime().tokens().create("t", "admin")) {}

  ApiReply call(const std::string& method, const std::string& path, const json& body = nullptr) {
    auto r = server_.request(method, path, body.is_null() ? std::string() : body.dump(),
                             {{"Authorization", "Bearer " + token_}, {"Content-Type", "application/json"}});
    return {r.status, json::parse(r.body, nullptr, false), r.body + r.error};
  }
  // POST /api/v1/broadcasts; the broadcast's id (0 on failure, reported).
  std::int64_t broadcast(const json& body, json* plan = nullptr) {
    const auto r = call("POST", "/api/v1/broadcasts", body);
    EXPECT_EQ(r.status, 201) << r.raw;
    if (r.status != 201) return 0;
    if (plan != nullptr) *plan = r.body["plan"];
    return r.body["id"].get<std::int64_t>();
  }
  json status(std::int64_t id) {
    const auto r = call("GET", "/api/v1/broadcasts/" + std::to_string(id));
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body;
  }
  // Waits until every recipient of the broadcast has a final status.
  json wait_finished(std::int64_t id, std::chrono::milliseconds timeout = 20s) {
    json st;
    eventually(
        [&] {
          st = status(id);
          return st.is_object() && st["finished"] == st["persons"];
        },
        timeout);
    return st;
  }

 private:
  TestServer& server_;
  std::string token_;
};

std::int64_t count_of(const json& counts, const char* key) {
  return counts.contains(key) ? counts[key].get<std::int64_t>() : 0;
}

std::int64_t sum_of(const json& counts) {
  std::int64_t n = 0;
  for (const auto& [k, v] : counts.items()) n += v.get<std::int64_t>();
  return n;
}

std::int64_t person_by_phone(TestServer& server, const std::string& phone) {
  return server.count("SELECT id FROM core_persons WHERE phone = '" + phone + "'");
}

// ---------------------------------------------------------------------------
// Through the admin API, the generic webhook and a mock gateway

TEST(DeliveryEngine, BroadcastReachesEveryPhoneOnceAndCountsReconcile) {
  MockGateway gw;
  TestServer server(server_options(reply_url_toml(gw)));
  AdminApi api(server);

  json plan;
  const auto id =
      api.broadcast({{"text", "村委会通知：明天上午九点开会。"}, {"audience", {{"everyone", true}}}}, &plan);
  ASSERT_GT(id, 0);
  EXPECT_EQ(plan["persons"], 5);
  EXPECT_EQ(plan["personal_chats"], 5);
  EXPECT_EQ(plan["group_posts"], 0);
  EXPECT_EQ(plan["unreachable"], 0);

  ASSERT_TRUE(gw.wait_for_accepted(5));
  const json st = api.wait_finished(id);
  std::this_thread::sleep_for(200ms);  // nothing more may come
  EXPECT_EQ(gw.accepted(), 5u);
  EXPECT_TRUE(gw.duplicates().empty());
  for (const char* phone : {"+8613800000001", "+8613800000002", "+8613800000003", "+8613800000004", "+8613800000009"})
    EXPECT_EQ(gw.accepted_for(phone), 1u) << phone;
  for (const auto& m : gw.messages()) {
    EXPECT_EQ(m.text, "村委会通知：明天上午九点开会。");
    EXPECT_FALSE(m.idempotency_key.empty());  // the gateway can deduplicate our retries
  }

  // The counts reconcile: persons = the sum over recipient statuses = reached.
  EXPECT_EQ(st["persons"], 5);
  EXPECT_EQ(sum_of(st["recipients"]), 5) << st.dump();
  EXPECT_EQ(count_of(st["recipients"], "sent"), 5) << st.dump();
  EXPECT_EQ(st["reached"], 5);
  EXPECT_EQ(st["finished"], 5);
  EXPECT_EQ(count_of(st["messages"], "sent"), 5);
  EXPECT_EQ(count_of(st["via"], "personal"), 5);
  EXPECT_EQ(st["acknowledged"], 0);

  // The recipients list pages: 2 + 2 + 1, every person once.
  std::set<std::int64_t> seen;
  for (int page = 1; page <= 3; ++page) {
    const auto r = api.call(
        "GET", "/api/v1/broadcasts/" + std::to_string(id) + "/recipients?per_page=2&page=" + std::to_string(page));
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["total"], 5);
    EXPECT_EQ(r.body["items"].size(), page < 3 ? 2u : 1u) << "page " << page;
    for (const auto& item : r.body["items"]) {
      seen.insert(item["person_id"].get<std::int64_t>());
      EXPECT_EQ(item["status"], "sent");
      EXPECT_EQ(item["attempts"], 1);
      EXPECT_FALSE(item["sent_at_ms"].is_null());
    }
  }
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(api.call("GET", "/api/v1/broadcasts/" + std::to_string(id) + "/recipients?page=4&per_page=2")
                .body["items"]
                .size(),
            0u);

  // A receipt with the gateway's id marks that message delivered; a failed
  // receipt lands in the dead letters with its reason.
  const auto messages = gw.messages();
  ASSERT_EQ(messages.size(), 5u);
  const auto& delivered = messages[0];
  const auto& lost = messages[1];
  auto receipt = server.request("POST", "/hooks/generic/status",
                                json{{"id", delivered.provider_id}, {"status", "delivered"}}.dump(),
                                {{"Content-Type", "application/json"}});
  EXPECT_EQ(receipt.status, 200) << receipt.body;
  receipt =
      server.request("POST", "/hooks/generic/status",
                     json{{"id", lost.provider_id}, {"status", "failed"}, {"error", "用户关机 handset off"}}.dump(),
                     {{"Content-Type", "application/json"}});
  EXPECT_EQ(receipt.status, 200) << receipt.body;
  json after;
  EXPECT_TRUE(eventually([&] {
    after = api.status(id);
    return count_of(after["recipients"], "delivered") == 1 && count_of(after["recipients"], "failed") == 1;
  })) << after.dump();
  EXPECT_EQ(sum_of(after["recipients"]), 5);
  const auto delivered_person = person_by_phone(server, delivered.recipient);
  auto r = api.call("GET", "/api/v1/broadcasts/" + std::to_string(id) + "/recipients?status=delivered");
  ASSERT_EQ(r.body["items"].size(), 1u) << r.raw;
  EXPECT_EQ(r.body["items"][0]["person_id"], delivered_person);
  EXPECT_FALSE(r.body["items"][0]["delivered_at_ms"].is_null());
  r = api.call("GET", "/api/v1/outbox/dead");
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["total"], 1) << r.raw;
  EXPECT_EQ(r.body["items"][0]["address"], lost.recipient);
  EXPECT_THAT(r.body["items"][0]["reason"].get<std::string>(), HasSubstr("handset off"));

  // 收到: the Messenger's acknowledge. The runtime exposes no Messenger, so a
  // second (unstarted) engine over the same database acknowledges.
  support::Metrics metrics;
  delivery::DeliveryEngine messenger(server.runtime().storage(), server.runtime().directory(), metrics,
                                     server.runtime().config());
  EXPECT_EQ(messenger.acknowledge(delivered_person, 0), id);      // 0: the latest broadcast sent to them
  EXPECT_EQ(messenger.acknowledge(delivered_person, id), id);     // twice is once
  EXPECT_EQ(messenger.acknowledge(delivered_person, 999999), 0);  // no such broadcast
  after = api.status(id);
  EXPECT_EQ(after["acknowledged"], 1) << after.dump();
  EXPECT_EQ(count_of(after["recipients"], "acknowledged"), 1);
  EXPECT_EQ(count_of(after["recipients"], "delivered"), 0);
  EXPECT_EQ(sum_of(after["recipients"]), 5);
  r = api.call("GET", "/api/v1/broadcasts/" + std::to_string(id) + "/recipients?status=acknowledged");
  ASSERT_EQ(r.body["total"], 1) << r.raw;
  EXPECT_EQ(r.body["items"][0]["person_id"], delivered_person);
  EXPECT_FALSE(r.body["items"][0]["acked_at_ms"].is_null());
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_outbox WHERE status = 'acknowledged'"), 1);

  EXPECT_EQ(api.call("GET", "/api/v1/broadcasts/999999").status, 404);
}

TEST(DeliveryEngine, FiveHundredsAndTimeoutsAreRetriedAndNothingIsLost) {
  constexpr int kPersons = 120;
  MockGateway gw(testkit::MockGatewayOptions{.threads = 2, .seed = 7, .port = 0, .faults = {}});
  gw.set_error_rate_500(0.30);
  gw.set_timeout_rate(0.10);
  TestServer server(
      server_options(reply_url_toml(gw) + "send_timeout_ms = 300\n", kFastRetries, village_csv(kPersons)));
  AdminApi api(server);

  const auto id = api.broadcast({{"text", "请各户本周五前缴纳医保。"}, {"audience", {{"everyone", true}}}});
  ASSERT_GT(id, 0);
  const json st = api.wait_finished(id, 40s);
  std::this_thread::sleep_for(300ms);

  EXPECT_EQ(count_of(st["recipients"], "sent"), kPersons) << st.dump();
  EXPECT_EQ(gw.accepted(), static_cast<std::size_t>(kPersons));
  EXPECT_TRUE(gw.duplicates().empty());
  EXPECT_TRUE(gw.duplicate_keys().empty());
  for (int i = 0; i < kPersons; ++i) EXPECT_EQ(gw.accepted_for(phone_of(i)), 1u) << phone_of(i);

  // The faults really happened and were retried; every attempt is one request.
  const auto counts = gw.counts();
  EXPECT_GT(counts.errors_500, 10u);
  EXPECT_GT(counts.timeouts, 2u);
  EXPECT_GT(server.count("SELECT MAX(attempts) FROM core_outbox"), 1);
  EXPECT_EQ(server.count("SELECT SUM(attempts) FROM core_outbox"), static_cast<std::int64_t>(counts.requests))
      << "500s " << counts.errors_500 << ", timeouts " << counts.timeouts;
  EXPECT_EQ(api.call("GET", "/api/v1/outbox/dead").body["total"], 0);
  std::printf(
      "[ figures  ] %d persons through 30%% 500s + 10%% timeouts: %zu requests, %zu 500s, %zu timeouts, "
      "max %lld attempts\n",
      kPersons, counts.requests, counts.errors_500, counts.timeouts,
      static_cast<long long>(server.count("SELECT MAX(attempts) FROM core_outbox")));
}

TEST(DeliveryEngine, PermanentErrorFailsAtOnceIntoTheDeadLetters) {
  MockGateway gw;
  gw.set_permanent_error_rate_400(1.0);
  TestServer server(server_options(reply_url_toml(gw), kFastRetries));
  AdminApi api(server);
  const auto person = person_by_phone(server, "+8613800000003");
  const auto id = api.broadcast({{"text", "通知"}, {"audience", {{"persons", {person}}}}});
  ASSERT_GT(id, 0);
  const json st = api.wait_finished(id);
  EXPECT_EQ(count_of(st["recipients"], "failed"), 1) << st.dump();
  std::this_thread::sleep_for(300ms);  // no retry follows
  EXPECT_EQ(gw.requests_total(), 1u);
  EXPECT_EQ(gw.accepted(), 0u);

  const auto dead = api.call("GET", "/api/v1/outbox/dead");
  ASSERT_EQ(dead.status, 200) << dead.raw;
  ASSERT_EQ(dead.body["total"], 1) << dead.raw;
  const json& item = dead.body["items"][0];
  EXPECT_EQ(item["attempts"], 1);
  EXPECT_EQ(item["status"], "failed");
  EXPECT_EQ(item["broadcast_id"], id);
  EXPECT_EQ(item["person_id"], person);
  EXPECT_EQ(item["address"], "+8613800000003");
  EXPECT_THAT(item["reason"].get<std::string>(), HasSubstr("400"));
  EXPECT_THAT(item["reason"].get<std::string>(), HasSubstr("recipient rejected"));  // the gateway's own words
  const auto rec = api.call("GET", "/api/v1/broadcasts/" + std::to_string(id) + "/recipients");
  EXPECT_EQ(rec.body["items"][0]["status"], "failed");
  EXPECT_THAT(rec.body["items"][0]["last_error"].get<std::string>(), HasSubstr("recipient rejected"));
}

TEST(DeliveryEngine, RetryAfterOfA429IsHonoured) {
  MockGateway gw;
  gw.set_rate_429(1.0, 2);
  TestServer server(server_options(reply_url_toml(gw), kFastRetries));
  AdminApi api(server);
  const auto id =
      api.broadcast({{"text", "通知"}, {"audience", {{"persons", {person_by_phone(server, "+8613800000001")}}}}});
  ASSERT_GT(id, 0);
  ASSERT_TRUE(gw.wait_for_requests(2, 10s));  // the first try and one retry, both answered 429
  gw.set_rate_429(0);
  ASSERT_TRUE(gw.wait_for_accepted(1, 10s));
  // Measured at the gateway, so that a slow test thread cannot bend it: however many
  // 429s there were, every retry waited the 2 s the gateway asked for (the engine's own
  // backoff here is 20–200 ms).
  const auto times = gw.request_times();
  ASSERT_GE(times.size(), 3u);
  for (std::size_t i = 1; i < times.size(); ++i) {
    const auto gap = times[i] - times[i - 1];
    EXPECT_GE(gap, 1900ms) << "request " << i + 1 << " came "
                           << std::chrono::duration_cast<std::chrono::milliseconds>(gap).count()
                           << " ms after a 429 with Retry-After: 2";
    EXPECT_LE(gap, 4000ms) << "request " << i + 1;
  }
  EXPECT_EQ(gw.accepted(), 1u);
  const json st = api.wait_finished(id);
  EXPECT_EQ(count_of(st["recipients"], "sent"), 1) << st.dump();
}

TEST(DeliveryEngine, AnEmergencyOvertakesThousandsOfQueuedNotices) {
  constexpr int kPersons = 3000;
  MockGateway gw;
  gw.set_latency(100ms);
  TestServer server(server_options(reply_url_toml(gw), {}, village_csv(kPersons)));
  AdminApi api(server);

  const auto notices = api.broadcast({{"text", "常规通知：本月垃圾清运时间调整。"},
                                      {"audience", {{"everyone", true}}},
                                      {"policy", "personal_all"},
                                      {"priority", "notice"}});
  ASSERT_GT(notices, 0);
  ASSERT_TRUE(gw.wait_for_accepted(30, 20s));

  const std::string alert = "紧急：山洪预警，请立即转移到高处！";
  const auto enqueued = steady::now();
  const auto emergency = api.broadcast({{"text", alert},
                                        {"audience", {{"persons", {person_by_phone(server, phone_of(kPersons - 1))}}}},
                                        {"policy", "personal_all"},
                                        {"priority", "emergency"},
                                        {"essential", true}});
  ASSERT_GT(emergency, 0);
  std::optional<testkit::GatewayMessage> got;
  std::size_t notices_before = 0;
  eventually(
      [&] {
        for (const auto& m : gw.messages()) {
          if (m.text == alert) {
            got = m;
            return true;
          }
          ++notices_before;
        }
        notices_before = 0;
        return false;
      },
      5s);
  ASSERT_TRUE(got.has_value()) << "the emergency did not arrive within 5 s";
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(got->received - enqueued);
  EXPECT_LT(took, 1000ms) << "the emergency reached the gateway " << took.count() << " ms after it was queued";
  EXPECT_EQ(got->recipient, phone_of(kPersons - 1));
  EXPECT_LT(notices_before, static_cast<std::size_t>(kPersons / 4));
  const json st = api.status(notices);
  EXPECT_GT(count_of(st["messages"], "queued"), kPersons / 2) << "most notices are still waiting";
  std::printf(
      "[ figures  ] emergency reached the gateway %lld ms after enqueue, behind %lld queued notices (%zu "
      "sent before it)\n",
      static_cast<long long>(took.count()), static_cast<long long>(count_of(st["messages"], "queued")), notices_before);

  // Done: cancel the rest, so that the test ends now.
  EXPECT_EQ(api.call("DELETE", "/api/v1/broadcasts/" + std::to_string(notices)).status, 200);
}

// On a rate-limited adapter (a group robot: N a minute) the emergency takes the
// next token, whenever it is queued. 120 a minute, burst 1: a token every 0.5 s.
// After the 6th notice the dispatcher has just refilled its claimed buffer
// (burst + concurrency = 9 rows; refilled below 9 / 2): the worst moment.
TEST(DeliveryEngine, AnEmergencyTakesTheNextTokenOfARateLimitedAdapter) {
  constexpr int kPersons = 60;
  MockGateway gw;
  TestServer server(
      server_options(reply_url_toml(gw) + "rate_per_minute = 120\nburst = 1\n", {}, village_csv(kPersons)));
  AdminApi api(server);
  const auto notices = api.broadcast(
      {{"text", "常规通知"}, {"audience", {{"everyone", true}}}, {"policy", "personal_all"}, {"priority", "notice"}});
  ASSERT_GT(notices, 0);
  ASSERT_TRUE(gw.wait_for_accepted(6, 10s));
  std::this_thread::sleep_for(50ms);
  const std::string alert = "紧急：堤坝出现险情！";
  const auto enqueued = steady::now();
  ASSERT_GT(api.broadcast({{"text", alert},
                           {"audience", {{"persons", {person_by_phone(server, phone_of(kPersons - 1))}}}},
                           {"policy", "personal_all"},
                           {"priority", "emergency"}}),
            0);
  std::optional<steady::time_point> arrived;
  eventually(
      [&] {
        for (const auto& m : gw.messages())
          if (m.text == alert) arrived = m.received;
        return arrived.has_value();
      },
      15s);
  ASSERT_TRUE(arrived.has_value());
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(*arrived - enqueued);
  std::printf(
      "[ figures  ] rate-limited adapter (a token every 500 ms): the emergency went out %lld ms after enqueue\n",
      static_cast<long long>(took.count()));
  EXPECT_LT(took, 1200ms) << "the emergency waited behind notices already claimed by the dispatcher";
  EXPECT_EQ(api.call("DELETE", "/api/v1/broadcasts/" + std::to_string(notices)).status, 200);
}

TEST(DeliveryEngine, CancelStopsWhatIsStillQueued) {
  MockGateway gw;
  // One message every 2 s: after the first, the rest wait.
  TestServer server(server_options(reply_url_toml(gw) + "rate_per_minute = 30\nburst = 1\n"));
  AdminApi api(server);
  const auto id = api.broadcast({{"text", "通知：周六义务劳动。"}, {"audience", {{"everyone", true}}}});
  ASSERT_GT(id, 0);
  ASSERT_TRUE(gw.wait_for_accepted(1));
  const auto r = api.call("DELETE", "/api/v1/broadcasts/" + std::to_string(id));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["cancelled"], true);

  // The status shows the cancellation at once: nothing is left waiting.
  json st;
  const bool settled = eventually(
      [&] {
        st = api.status(id);
        return st["finished"] == 5;
      },
      2500ms);
  EXPECT_TRUE(settled) << "2.5 s after DELETE the broadcast still shows messages waiting: " << st.dump();
  std::this_thread::sleep_for(4500ms);  // two more tokens' worth: nothing more may go
  EXPECT_EQ(gw.accepted(), 1u);
  EXPECT_EQ(gw.requests_total(), 1u);
  st = api.status(id);
  EXPECT_EQ(st["status"], "cancelled") << st.dump();
  EXPECT_EQ(count_of(st["recipients"], "sent"), 1) << st.dump();
  EXPECT_EQ(count_of(st["recipients"], "cancelled"), 4) << st.dump();
  EXPECT_EQ(st["finished"], 5);
  const auto cancelled = api.call("GET", "/api/v1/broadcasts/" + std::to_string(id) + "/recipients?status=cancelled");
  ASSERT_EQ(cancelled.body["total"], 4) << cancelled.raw;
  for (const auto& item : cancelled.body["items"])
    EXPECT_THAT(item["last_error"].get<std::string>(), HasSubstr("cancel"));
  EXPECT_EQ(api.call("DELETE", "/api/v1/broadcasts/999999").status, 404);
}

TEST(DeliveryEngine, ARestartMidBroadcastLosesNobody) {
  constexpr int kPersons = 300;
  MockGateway gw;
  gw.set_latency(40ms);
  TestServer server(server_options(reply_url_toml(gw), {}, village_csv(kPersons)));
  AdminApi api(server);
  const auto id = api.broadcast({{"text", "通知：明天停电检修。"}, {"audience", {{"everyone", true}}}});
  ASSERT_GT(id, 0);
  ASSERT_TRUE(gw.wait_for_accepted(40, 20s));
  server.restart();
  const auto at_restart = gw.accepted();
  EXPECT_LT(at_restart, static_cast<std::size_t>(kPersons)) << "the broadcast was over before the restart";

  ASSERT_TRUE(gw.wait_for_accepted(kPersons, 30s)) << gw.accepted() << " of " << kPersons;
  const json st = api.wait_finished(id);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(count_of(st["recipients"], "sent"), kPersons) << st.dump();
  EXPECT_EQ(gw.accepted(), static_cast<std::size_t>(kPersons));
  for (int i = 0; i < kPersons; ++i) EXPECT_GE(gw.accepted_for(phone_of(i)), 1u) << phone_of(i);
  EXPECT_TRUE(gw.duplicates().empty()) << "a clean restart sends nobody a message twice";
  std::printf("[ figures  ] restart after %zu of %d messages; all %zu arrived\n", at_restart, kPersons, gw.accepted());
}

// ---------------------------------------------------------------------------
// Planning: group posts, personal chats, SMS, segments, cost, dry runs

class Planning : public ::testing::Test {
 protected:
  Planning()
      : server_(server_options(reply_url_toml(gw_, "/chat"),
                               "[[adapters]]\nid = \"sms\"\ntype = \"generic-webhook\"\n" +
                                   reply_url_toml(gw_, "/sms") + "sms = true\ncost_per_segment = 0.05\n")),
        api_(server_) {}

  std::size_t accepted_on(const std::string& path) {
    std::size_t n = 0;
    for (const auto& m : gw_.messages()) n += m.target == path ? 1 : 0;
    return n;
  }

  MockGateway gw_;
  TestServer server_;
  AdminApi api_;
};

TEST_F(Planning, GroupFirstPostsOnceForTheCoveredUnitAndPersonallyToTheRest) {
  const auto unit = server_.count("SELECT id FROM core_org_units WHERE path = '一组'");
  ASSERT_GT(unit, 0);
  auto r = api_.call("POST", "/api/v1/group-chats",
                     {{"adapter_id", "generic"}, {"chat_id", "grp-yizu"}, {"name", "一组群"}, {"org_unit_id", unit}});
  ASSERT_EQ(r.status, 201) << r.raw;
  r = api_.call("GET", "/api/v1/group-chats");
  ASSERT_EQ(r.body["items"].size(), 1u) << r.raw;
  EXPECT_EQ(r.body["items"][0]["org_unit_path"], "一组");

  const json body = {{"text", "一组和全村：周日打扫卫生。"}, {"audience", {{"everyone", true}}}};
  r = api_.call("POST", "/api/v1/broadcasts?dry_run=true", body);
  ASSERT_EQ(r.status, 200) << r.raw;
  const json dry = r.body["plan"];
  EXPECT_EQ(dry["persons"], 5);
  EXPECT_EQ(dry["group_posts"], 1);
  EXPECT_EQ(dry["covered_by_groups"], 2);  // 13800000001 and 13800000002 in 一组/东院
  EXPECT_EQ(dry["personal_chats"], 3);
  EXPECT_EQ(dry["sms"], 0);

  json plan;
  const auto id = api_.broadcast(body, &plan);
  ASSERT_GT(id, 0);
  EXPECT_EQ(plan, dry) << "the dry run plans what the broadcast does";
  const json st = api_.wait_finished(id);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(gw_.accepted(), 4u);
  EXPECT_EQ(gw_.accepted_for("grp-yizu"), 1u);
  EXPECT_EQ(gw_.accepted_for("+8613800000001"), 0u);
  EXPECT_EQ(gw_.accepted_for("+8613800000002"), 0u);
  for (const char* phone : {"+8613800000003", "+8613800000004", "+8613800000009"})
    EXPECT_EQ(gw_.accepted_for(phone), 1u) << phone;
  EXPECT_EQ(accepted_on("/chat"), 4u);
  EXPECT_EQ(count_of(st["via"], "group"), 2) << st.dump();
  EXPECT_EQ(count_of(st["via"], "personal"), 3) << st.dump();
  EXPECT_EQ(st["reached"], 5) << st.dump();  // the two in the group are reached by its post
  EXPECT_EQ(count_of(st["messages"], "sent"), 4) << st.dump();
}

TEST_F(Planning, PersonalAllSmsAllSegmentsCostAndDryRunsSendNothing) {
  const std::string long_text = chinese_text(71);
  const std::string short_text = chinese_text(70);
  ASSERT_EQ(utf8_chars(long_text), 71u);
  const json everyone = {{"everyone", true}};
  const auto broadcasts_before = server_.count("SELECT COUNT(*) FROM core_broadcasts");
  const auto outbox_before = server_.count("SELECT COUNT(*) FROM core_outbox");

  auto dry = [&](const json& body) {
    const auto r = api_.call("POST", "/api/v1/broadcasts?dry_run=true", body);
    EXPECT_EQ(r.status, 200) << r.raw;
    EXPECT_FALSE(r.body.contains("id")) << r.raw;
    return r.body["plan"];
  };
  json p = dry({{"text", long_text}, {"audience", everyone}, {"policy", "personal_all"}});
  EXPECT_EQ(p["personal_chats"], 5);
  EXPECT_EQ(p["sms"], 0);
  EXPECT_EQ(p["group_posts"], 0);
  EXPECT_DOUBLE_EQ(p["estimated_cost"].get<double>(), 0.0);

  p = dry({{"text", long_text}, {"audience", everyone}, {"policy", "sms_all"}});
  EXPECT_EQ(p["sms"], 5);
  EXPECT_EQ(p["personal_chats"], 0);
  EXPECT_EQ(p["sms_segments"], 10);  // 71 Chinese characters: two segments of at most 67
  EXPECT_NEAR(p["estimated_cost"].get<double>(), 10 * 0.05, 1e-9);

  p = dry({{"text", short_text}, {"audience", everyone}, {"policy", "sms_all"}});
  EXPECT_EQ(p["sms_segments"], 5);  // 70 fit in one
  EXPECT_NEAR(p["estimated_cost"].get<double>(), 5 * 0.05, 1e-9);

  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(gw_.requests_total(), 0u) << "a dry run sends nothing";
  EXPECT_EQ(server_.count("SELECT COUNT(*) FROM core_broadcasts"), broadcasts_before);
  EXPECT_EQ(server_.count("SELECT COUNT(*) FROM core_outbox"), outbox_before);

  // The real SMS broadcast: five SMS of two segments through the SMS adapter.
  json plan;
  const auto id = api_.broadcast({{"text", long_text}, {"audience", everyone}, {"policy", "sms_all"}}, &plan);
  ASSERT_GT(id, 0);
  EXPECT_EQ(plan["sms_segments"], 10);
  const json st = api_.wait_finished(id);
  EXPECT_EQ(count_of(st["via"], "sms"), 5) << st.dump();
  EXPECT_EQ(count_of(st["recipients"], "sent"), 5) << st.dump();
  EXPECT_EQ(accepted_on("/sms"), 5u);
  EXPECT_EQ(accepted_on("/chat"), 0u);
  EXPECT_EQ(server_.count("SELECT COUNT(*) FROM core_outbox WHERE broadcast_id = " + std::to_string(id) +
                          " AND adapter_id = 'sms' AND sms = 1 AND segments = 2"),
            5);
  for (const auto& m : gw_.messages()) EXPECT_EQ(m.text, long_text);

  const auto personal = api_.broadcast({{"text", "私信通知"}, {"audience", everyone}, {"policy", "personal_all"}});
  const json pst = api_.wait_finished(personal);
  EXPECT_EQ(count_of(pst["via"], "personal"), 5) << pst.dump();
  EXPECT_EQ(accepted_on("/chat"), 5u);
}

// ---------------------------------------------------------------------------
// Quiet hours and opt-out with a controllable clock: the engine itself over a
// real SQLite directory and a recording SMS adapter.

class RecordingSms final : public Adapter {
 public:
  void start(AdapterContext& /*context*/) override {}
  [[nodiscard]] std::string identity_kind() const override { return "phone"; }
  [[nodiscard]] bool is_sms() const override { return true; }
  [[nodiscard]] bool can_send_group() const override { return false; }
  [[nodiscard]] std::string sms_signature() const override { return "【测试村】"; }
  SendResult send(const OutboundMessage& message) override {
    std::lock_guard lock(mutex_);
    if (down_ > 0) {
      --down_;
      return SendResult::gateway_down("the modem is not connected", 1);
    }
    sent_.push_back(message);
    cv_.notify_all();
    const std::string id = "sms-" + std::to_string(sent_.size());
    if (parts_ < 2) return SendResult::ok(id);
    std::vector<std::string> ids;  // a long SMS: the gateway numbers each part
    for (int i = 1; i <= parts_; ++i) ids.push_back(id + "." + std::to_string(i));
    return SendResult::ok_parts(ids);
  }
  std::atomic<int> parts_{1};
  std::atomic<int> down_{0};  // the next sends find the gateway down
  std::vector<OutboundMessage> sent() {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  std::size_t count_text(const std::string& text) {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& m : sent_) n += m.text == text ? 1 : 0;
    return n;
  }
  bool wait_for_text(const std::string& text, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const auto& m : sent_)
        if (m.text == text) return true;
      return false;
    });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<OutboundMessage> sent_;
};

// Milliseconds since the epoch of a Beijing wall-clock time (UTC+8).
std::int64_t beijing_ms(std::chrono::year_month_day day, std::chrono::hours h, std::chrono::minutes m = {},
                        std::chrono::seconds s = {}) {
  const auto t = std::chrono::sys_days{day} + h + m + s - std::chrono::hours(8);
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

constexpr std::chrono::year_month_day kMay1{std::chrono::year{2024}, std::chrono::May, std::chrono::day{1}};
constexpr std::chrono::year_month_day kMay2{std::chrono::year{2024}, std::chrono::May, std::chrono::day{2}};

class EngineWithClock : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testkit::make_temp_dir("villagebot-engine");
    storage_ = std::make_unique<storage::SqliteStorage>((dir_ / "villagebot.db").string(),
                                                        storage::SqliteOptions{.synchronous_full = false});
    storage_->migrate("core", storage::core_migrations());
    const auto report = directory::import_people(*storage_, testkit::kSmallVillageCsv, {});
    ASSERT_TRUE(report.applied);
    directory_ = std::make_unique<directory::SqliteDirectory>(*storage_);
    config_ = config::load_string(
        "[village]\nname = \"测试村\"\ntimezone = \"Asia/Shanghai\"\n\n"
        "[delivery]\nquiet_hours = \"21:00-07:00\"\nretry_base_ms = 20\nretry_max_ms = 200\nmax_attempts = 3\n",
        "test.toml");
    ASSERT_TRUE(config_.ok()) << config_.errors->front();
    now_ms_ = beijing_ms(kMay1, std::chrono::hours(10));
    engine_ = std::make_unique<delivery::DeliveryEngine>(*storage_, *directory_, metrics_, config_, [this] {
      return delivery::Clock::time_point(std::chrono::milliseconds(now_ms_.load()));
    });
    engine_->start({{"sms", &sms_, config::AdapterDelivery{}}});
  }
  void TearDown() override {
    engine_.reset();
    directory_.reset();
    storage_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Messenger& messenger() { return *engine_; }
  std::int64_t person(const char* phone) { return directory_->find_by_phone(phone).value().id; }
  struct OutboxState {
    std::string status;
    std::int64_t not_before_ms = 0;
    std::int64_t attempts = 0;
    std::string last_error;
  };
  OutboxState row(std::int64_t id) {
    return storage_->read([&](Session& s) {
      auto rows = s.query("SELECT status, not_before_ms, attempts, last_error FROM core_outbox WHERE id = ?", {id});
      if (rows.empty()) return OutboxState{};
      return OutboxState{rows[0].text(0), rows[0].integer(1), rows[0].integer(2), rows[0].text(3)};
    });
  }

  std::filesystem::path dir_;
  support::Metrics metrics_;
  std::unique_ptr<storage::SqliteStorage> storage_;
  std::unique_ptr<directory::SqliteDirectory> directory_;
  config::Config config_;
  std::atomic<std::int64_t> now_ms_{0};
  RecordingSms sms_;
  std::unique_ptr<delivery::DeliveryEngine> engine_;
};

TEST_F(EngineWithClock, QuietHoursHoldANoticeUntilSevenWhileEmergenciesAndEssentialsGo) {
  now_ms_ = beijing_ms(kMay1, std::chrono::hours(23));
  const auto notice = messenger().send_to_person(person("13800000001"), "明天上午开会，请准时参加。");
  const auto alert = messenger().send_to_person(person("13800000002"), "山洪预警：请立即转移！",
                                                send_options(Priority::emergency, false));
  const auto essential =
      messenger().send_to_person(person("13800000003"), "停水通知（必要）", send_options(Priority::notice, true));
  ASSERT_GT(notice, 0);
  ASSERT_GT(alert, 0);
  ASSERT_GT(essential, 0);

  EXPECT_TRUE(sms_.wait_for_text("山洪预警：请立即转移！", 3s)) << "an emergency goes at night";
  EXPECT_TRUE(sms_.wait_for_text("停水通知（必要）", 3s)) << "an essential message goes at night";
  const auto seven = beijing_ms(kMay2, std::chrono::hours(7));
  EXPECT_TRUE(eventually([&] { return row(notice).not_before_ms == seven; }, 3s))
      << "held until 07:00 the next morning; not_before_ms = " << row(notice).not_before_ms << ", 07:00 = " << seven;
  auto held = row(notice);
  EXPECT_EQ(held.status, "queued");
  EXPECT_THAT(held.last_error, HasSubstr("quiet hours"));
  EXPECT_EQ(sms_.count_text("明天上午开会，请准时参加。"), 0u);

  // 06:59: still night.
  now_ms_ = beijing_ms(kMay2, std::chrono::hours(6), std::chrono::minutes(59));
  std::this_thread::sleep_for(1500ms);  // more than the dispatcher's idle poll
  EXPECT_EQ(sms_.count_text("明天上午开会，请准时参加。"), 0u) << "sent before 07:00";

  // Past 07:00 the dispatcher's next look releases it.
  now_ms_ = beijing_ms(kMay2, std::chrono::hours(7), std::chrono::minutes(0), std::chrono::seconds(1));
  EXPECT_TRUE(sms_.wait_for_text("明天上午开会，请准时参加。", 3s)) << "not released after 07:00";
  EXPECT_TRUE(eventually([&] { return row(notice).status == "sent"; }, 2s)) << row(notice).status;
  EXPECT_EQ(row(notice).attempts, 1) << "a hold is not an attempt";
  EXPECT_EQ(sms_.sent().size(), 3u);
}

// A gateway that is down (a modem unplugged for hours) holds messages: more refusals than the
// attempts allowed, and the message is still sent once the gateway is back, as its first attempt.
TEST_F(EngineWithClock, AGatewayThatIsDownHoldsMessagesWithoutUsingUpTheirAttempts) {
  sms_.down_ = 5;  // max_attempts is 3
  const auto id = messenger().send_to_person(person("13800000001"), "停电后补发的通知");
  ASSERT_GT(id, 0);
  for (int i = 0; i < 200 && row(id).status != "sent"; ++i) {
    now_ms_ += 2000;  // past each hold's not-before
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(row(id).status, "sent") << row(id).last_error;
  EXPECT_EQ(row(id).attempts, 1);
  EXPECT_EQ(sms_.count_text("停电后补发的通知"), 1u);
}

// A long SMS goes as parts with a receipt each: delivered when the last part is, failed when one fails.
TEST_F(EngineWithClock, ALongSmsIsDeliveredWhenEveryPartIsAndFailedWhenOnePartFails) {
  sms_.parts_ = 3;
  const auto first = messenger().send_to_person(person("13800000001"), "第一条长短信");
  ASSERT_GT(first, 0);
  ASSERT_TRUE(eventually([&] { return row(first).status == "sent"; }, 3s)) << row(first).status;
  engine_->report_delivery("sms", "sms-1.1", true, "");
  engine_->report_delivery("sms", "sms-1.3", true, "");
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(row(first).status, "sent") << "two of three parts are not the message";
  engine_->report_delivery("sms", "sms-1.2", true, "");
  EXPECT_TRUE(eventually([&] { return row(first).status == "delivered"; }, 3s)) << row(first).status;

  const auto second = messenger().send_to_person(person("13800000002"), "第二条长短信");
  ASSERT_TRUE(eventually([&] { return row(second).status == "sent"; }, 3s)) << row(second).status;
  engine_->report_delivery("sms", "sms-2.1", true, "");
  engine_->report_delivery("sms", "sms-2.2", false, "UNDELIV err:011");
  EXPECT_TRUE(eventually([&] { return row(second).status == "failed"; }, 3s)) << row(second).status;
  EXPECT_THAT(row(second).last_error, HasSubstr("UNDELIV"));
  engine_->report_delivery("sms", "sms-2.3", true, "");  // a late good part changes nothing
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(row(second).status, "failed");
}

// What a message costs counts the signature the gateway puts in front: 66 characters + 【测试村】 are
// 71, two SMS.
TEST_F(EngineWithClock, TheSmsSignatureCountsInWhatAMessageCosts) {
  std::string text;
  for (int i = 0; i < 66; ++i) text += "村";
  const auto id = messenger().send_to_person(person("13800000001"), text);
  ASSERT_GT(id, 0);
  const auto segments = storage_->read(
      [&](Session& s) { return s.query("SELECT segments FROM core_outbox WHERE id = ?", {id}).at(0).integer(0); });
  EXPECT_EQ(segments, 2);
  Broadcast b;
  b.text = text.substr(0, text.size() - 3);  // 65 + 5: one SMS
  b.audience.persons = {person("13800000001"), person("13800000002")};
  b.policy = ChannelPolicy::sms_all;
  EXPECT_EQ(messenger().plan(b).sms_segments, 2) << "two persons, one SMS each";
  b.text += "村";
  EXPECT_EQ(messenger().plan(b).sms_segments, 4) << "two persons, two SMS each";
}

// A plugin's job that runs twice (or again after a crash) sends with the same key: one SMS.
TEST_F(EngineWithClock, AMessageWithAKeyAlreadyUsedIsNotQueuedAgain) {
  SendOptions o;
  o.idempotency_key = "volunteers:remind:7:hour:1";
  const auto first = messenger().send_to_person(person("13800000001"), "值班提醒：一小时后开始。", o);
  ASSERT_GT(first, 0);
  EXPECT_EQ(messenger().send_to_person(person("13800000001"), "值班提醒：一小时后开始。", o), first);
  EXPECT_TRUE(sms_.wait_for_text("值班提醒：一小时后开始。", 3s));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(sms_.count_text("值班提醒：一小时后开始。"), 1u);
  // Another key, or none, is another message.
  o.idempotency_key = "volunteers:remind:8:hour:1";
  EXPECT_NE(messenger().send_to_person(person("13800000001"), "值班提醒：一小时后开始。", o), first);
  EXPECT_NE(messenger().send_to_person(person("13800000001"), "值班提醒：一小时后开始。"), first);
  EXPECT_TRUE(eventually([&] { return sms_.count_text("值班提醒：一小时后开始。") == 3; }, 3s));
}

TEST_F(EngineWithClock, AnOptedOutPersonGetsOnlyEssentialSms) {
  const auto p1 = person("13800000001");
  const auto p2 = person("13800000002");
  const auto p3 = person("13800000003");
  directory_->set_opted_out(p1, true);

  // Non-essential: not queued at all through the person, cancelled with the reason through an address.
  EXPECT_EQ(messenger().send_to_person(p1, "村里开会通知"), 0);
  OutboundMessage direct;
  direct.adapter_id = "sms";
  direct.address = "+8613800000001";
  direct.person_id = p1;
  direct.text = "直接发送的通知";
  EXPECT_EQ(engine_->send(direct), 0);
  const auto cancelled = storage_->read(
      [&](Session& s) { return s.query("SELECT status, last_error FROM core_outbox WHERE text = '直接发送的通知'"); });
  ASSERT_EQ(cancelled.size(), 1u);
  EXPECT_EQ(cancelled[0].text(0), "cancelled");
  EXPECT_THAT(cancelled[0].text(1), HasSubstr("退订"));

  // Essential: sent.
  EXPECT_GT(messenger().send_to_person(p1, "地震预警（必要）", send_options(Priority::notice, true)), 0);
  EXPECT_TRUE(sms_.wait_for_text("地震预警（必要）", 3s));

  // A broadcast: the opted-out person is counted and not sent to, the others are.
  Broadcast b;
  b.text = "广播：本周六集体劳动。";
  b.audience.persons = {p1, p2};
  b.policy = ChannelPolicy::sms_all;
  DeliveryPlan plan;
  const auto bid = engine_->broadcast(b, &plan);
  EXPECT_EQ(plan.persons, 2);
  EXPECT_EQ(plan.sms, 1);
  EXPECT_EQ(plan.opted_out, 1);
  EXPECT_TRUE(sms_.wait_for_text("广播：本周六集体劳动。", 3s));
  json st;
  EXPECT_TRUE(eventually([&] {
    st = engine_->broadcast_status(bid);
    return st["finished"] == 2;
  }));
  // What a cadre sees for the opted-out person: that 退订 is why nothing was sent
  // (as send() records it: cancelled, "opted out (退订)"), not "no channel reaches them".
  const json list = engine_->recipients(bid, "", 1, 50);
  ASSERT_EQ(list["items"].size(), 2u) << list.dump();
  for (const auto& item : list["items"]) {
    if (item["person_id"] != p1) continue;
    const std::string status = item["status"].get<std::string>();
    EXPECT_TRUE(status == "cancelled" || status == "opted_out") << item.dump();
    if (status != "opted_out") {
      EXPECT_THAT(item["last_error"].get<std::string>(), HasSubstr("退订")) << item.dump();
    }
  }
  // The essential broadcast reaches them.
  b.text = "必要广播：明日停电。";
  b.essential = true;
  engine_->broadcast(b, &plan);
  EXPECT_EQ(plan.sms, 2);
  EXPECT_EQ(plan.opted_out, 0);
  EXPECT_TRUE(sms_.wait_for_text("必要广播：明日停电。", 3s));
  EXPECT_TRUE(eventually([&] { return sms_.count_text("必要广播：明日停电。") == 2; }, 2s));

  // Queued at night, opted out before the morning: cancelled with the reason, never sent.
  now_ms_ = beijing_ms(kMay1, std::chrono::hours(23));
  const auto night = messenger().send_to_person(p3, "夜里排队的通知");
  ASSERT_GT(night, 0);
  EXPECT_TRUE(eventually([&] { return row(night).last_error.find("quiet hours") != std::string::npos; }, 3s));
  directory_->set_opted_out(p3, true);
  now_ms_ = beijing_ms(kMay2, std::chrono::hours(7), std::chrono::minutes(0), std::chrono::seconds(1));
  EXPECT_TRUE(eventually([&] { return row(night).status == "cancelled"; }, 3s)) << row(night).status;
  EXPECT_THAT(row(night).last_error, HasSubstr("退订"));
  EXPECT_EQ(sms_.count_text("夜里排队的通知"), 0u);
  for (const auto& m : sms_.sent()) {
    if (m.address == "+8613800000001") {
      EXPECT_TRUE(m.essential) << m.text;
    }
  }
}

}  // namespace
}  // namespace villagebot
