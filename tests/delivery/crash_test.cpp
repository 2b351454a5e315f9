// Issue 4's crash acceptance, with the real binary: a village of 10,000 persons, a
// broadcast to everyone through the generic webhook to a MockGateway in this process,
// rate_per_minute = 12000 (200 messages/s) and concurrency = 8, `kill -9` while the
// outbox drains, restart, and then:
//   - every recipient got the message at least once (the gateway saw all 10,000 phones);
//   - at most `concurrency` (8) were sent twice (sent, not yet recorded, at the kill);
//     with the gateway deduplicating by Idempotency-Key, nobody got it twice;
//   - the counts reconcile exactly: 10,000 outbox rows sent, none queued or sending, the
//     broadcast's persons == reached == 10,000.
// And a kill -9 right after the POST returned: accepted means durable.
//
// The kill moment is random (10%-80% of the expected drain time), from a seed printed
// with each test; VILLAGEBOT_CRASH_SEED=<n> repeats a run.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/http_client.hpp"
#include "mock_gateway.hpp"
#include "process.hpp"
#include "storage/sqlite_storage.hpp"
#include "testkit.hpp"
#include "villagebot/text.hpp"

namespace villagebot::testkit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kPersons = 10000;
constexpr int kRatePerMinute = 12000;  // 200 messages/s
constexpr int kConcurrency = 8;
// The bucket holds `concurrency` tokens: with the default burst of 1 the dispatcher
// reaches only about two thirds of rate_per_minute (see the report on Dispatcher::until_token),
// and the test would take a minute longer per run. VILLAGEBOT_CRASH_BURST=1 tries the default.
int burst() {
  const char* env = std::getenv("VILLAGEBOT_CRASH_BURST");
  return env != nullptr ? std::max(1, std::atoi(env)) : kConcurrency;
}
constexpr double kExpectedDrainS = kPersons / (kRatePerMinute / 60.0);  // 50 s
constexpr auto kFinishTimeout = seconds(240);

constexpr const char* kGroups[10] = {"一组", "二组", "三组", "四组", "五组", "六组", "七组", "八组", "九组", "十组"};
constexpr const char* kSurnames[12] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙"};
constexpr const char* kGiven[16] = {"建国", "秀英", "伟", "芳", "敏", "静", "丽", "强",
                                    "磊",   "军",   "洋", "勇", "艳", "杰", "娟", "涛"};

// 139 and eight digits; i ↦ (i·7919 + 12345) mod 10^8 is one to one (7919 is prime to 10).
std::string phone_of(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "139%08lld", (static_cast<long long>(i) * 7919 + 12345) % 100000000LL);
  return buf;
}

// Households of three, ten 村民小组.
std::string village_csv() {
  std::string csv = "户号,户主,姓名,手机,村民小组,角色\n";
  for (int i = 0; i < kPersons; ++i) {
    const int h = i / 3;
    char code[16];
    std::snprintf(code, sizeof code, "H%05d", h);
    const std::string head = std::string(kSurnames[h % 12]) + kGiven[h % 16];
    const std::string name = i % 3 == 0 ? head : std::string(kSurnames[h % 12]) + kGiven[(h + i % 3 * 5) % 16];
    for (const std::string& cell : {std::string(code), head, name, phone_of(i), std::string(kGroups[h % 10])})
      csv.append(cell).append(",");
    csv += "村民\n";
  }
  return csv;
}

// As the directory stores them (+86...), which is what the adapter sends to.
std::set<std::string> all_phones() {
  std::set<std::string> out;
  for (int i = 0; i < kPersons; ++i) out.insert(text::normalise_phone(phone_of(i)).value_or(phone_of(i)));
  return out;
}

std::string config_toml(const fs::path& db, const std::string& reply_url, int rate_per_minute) {
  std::string toml = "[server]\nlisten = \"127.0.0.1:0\"\nthreads = 2\nshutdown_grace_ms = 5000\n\n";
  toml += "[storage]\npath = \"" + db.string() + "\"\n\n";
  toml += "[pipeline]\nrate_limit_messages = 0\n\n";
  toml += "[plugins]\ndir = \"" VILLAGEBOT_MODULE_DIR "\"\nenabled = []\n\n";
  toml += "[[adapters]]\nid = \"generic\"\ntype = \"generic-webhook\"\n";
  if (!reply_url.empty()) toml += "reply_url = \"" + reply_url + "\"\nsend_timeout_ms = 10000\n";
  toml += "rate_per_minute = " + std::to_string(rate_per_minute) + "\nburst = " + std::to_string(burst()) +
          "\nconcurrency = " + std::to_string(kConcurrency) + "\n";
  return toml;
}

std::int64_t count(const fs::path& db, const std::string& sql) {
  storage::SqliteStorage s(db.string());
  return s.read([&](Session& session) { return session.query(sql)[0].integer(0); });
}

std::uint32_t crash_seed() {
  if (const char* s = std::getenv("VILLAGEBOT_CRASH_SEED"))
    return static_cast<std::uint32_t>(std::strtoul(s, nullptr, 10));
  return std::random_device{}();
}

// The imported village, once for all tests: each test copies the database.
class Template {
 public:
  static Template& get() {
    static Template t;
    return t;
  }
  fs::path db() const { return dir_ / "villagebot.db"; }
  ~Template() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

 private:
  Template() : dir_(make_temp_dir("villagebot-crash-template")) {
    const auto config = dir_ / "villagebot.toml";
    std::ofstream(config) << config_toml(db(), "", 0);
    std::ofstream(dir_ / "people.csv") << village_csv();
    const auto start = SteadyClock::now();
    const auto r =
        run({VILLAGEBOT_EXE, "import", "people", (dir_ / "people.csv").string(), "--config", config.string()}, {},
            seconds(300));
    if (r.exit_code != 0) throw std::runtime_error("import failed: " + r.out + r.err);
    std::cout << "[crash] imported " << kPersons << " persons with the CLI in "
              << std::chrono::duration_cast<milliseconds>(SteadyClock::now() - start).count() << " ms\n";
  }
  fs::path dir_;
};

// One test's village: a copy of the template database and a config pointing at the gateway.
struct Village {
  fs::path dir = make_temp_dir("villagebot-crash");
  fs::path config = dir / "villagebot.toml";
  fs::path db = dir / "villagebot.db";
  std::string token;

  Village(const std::string& reply_url, int rate_per_minute) {
    const fs::path from = Template::get().db();
    fs::copy_file(from, db);
    for (const char* suffix : {"-wal", "-shm"})
      if (fs::exists(from.string() + suffix)) fs::copy_file(from.string() + suffix, db.string() + suffix);
    std::ofstream(config) << config_toml(db, reply_url, rate_per_minute);
    const auto r = run(
        {VILLAGEBOT_EXE, "token", "create", "--name", "crash-test", "--role", "admin", "--config", config.string()});
    if (r.exit_code != 0) throw std::runtime_error("token create failed: " + r.out + r.err);
    token = r.out.substr(0, r.out.find('\n'));
  }
  ~Village() {
    std::error_code ec;
    if (std::getenv("VILLAGEBOT_TEST_KEEP") == nullptr) fs::remove_all(dir, ec);
  }
  Village(const Village&) = delete;
  Village& operator=(const Village&) = delete;
};

// `villagebot serve` with the admin API a call away.
class Server {
 public:
  explicit Server(const Village& v) : village_(v), child_({VILLAGEBOT_EXE, "serve", "--config", v.config.string()}) {
    port_ = port_from_line(child_.wait_for_line("listening on", seconds(60)));
    if (port_ <= 0) {
      const auto r = child_.wait(milliseconds(100));
      throw std::runtime_error("villagebot serve did not start: " + r.out + r.err);
    }
  }
  ClientResponse api(const std::string& method, const std::string& path, const std::string& body = {}) {
    ClientRequest req;
    req.method = method;
    req.url = "http://127.0.0.1:" + std::to_string(port_) + path;
    req.body = body;
    req.headers = {{"Authorization", "Bearer " + village_.token}, {"Content-Type", "application/json"}};
    req.timeout = seconds(60);
    return client_.request(req);
  }
  // Reads what the server printed (so that its pipes never fill); false once it has exited.
  bool alive() { return child_.wait(milliseconds(1)).exit_code == -2; }
  void kill9() {
    child_.signal(SIGKILL);
    const auto r = child_.wait(seconds(30));
    if (r.signal != SIGKILL) ADD_FAILURE() << "the server did not die of SIGKILL: exit " << r.exit_code << r.err;
  }
  RunResult terminate() {
    child_.signal(SIGTERM);
    return child_.wait(seconds(60));
  }
  [[nodiscard]] int port() const { return port_; }

 private:
  const Village& village_;
  Child child_;
  http::BeastHttpClient client_;
  int port_ = 0;
};

std::int64_t post_broadcast(Server& server) {
  const json body{{"text", "【通知】明天上午九点在村委会召开村民大会，请每户派一名代表参加。回复“收到”确认。"},
                  {"audience", {{"everyone", true}}},
                  {"policy", "personal_all"}};
  const auto r = server.api("POST", "/api/v1/broadcasts", body.dump());
  if (r.status != 201) throw std::runtime_error("POST /api/v1/broadcasts: " + std::to_string(r.status) + " " + r.body);
  const auto answer = json::parse(r.body);
  const auto& plan = answer.at("plan");
  EXPECT_EQ(plan.at("persons"), kPersons);
  EXPECT_EQ(plan.at("personal_chats"), kPersons);
  EXPECT_EQ(plan.at("unreachable"), 0);
  return answer.at("id").get<std::int64_t>();
}

json status_of(Server& server, std::int64_t id) {
  const auto r = server.api("GET", "/api/v1/broadcasts/" + std::to_string(id));
  if (r.status != 200) return nullptr;
  return json::parse(r.body, nullptr, false);
}

std::int64_t field(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<std::int64_t>() : 0;
}

// Polls the broadcast until every recipient's message is sent; returns the last status.
json wait_until_finished(Server& server, std::int64_t id) {
  const auto deadline = SteadyClock::now() + kFinishTimeout;
  json st;
  while (SteadyClock::now() < deadline) {
    if (!server.alive()) {
      ADD_FAILURE() << "the restarted server exited";
      return st;
    }
    st = status_of(server, id);
    if (field(st, "reached") == kPersons && field(st, "finished") == kPersons) return st;
    std::this_thread::sleep_for(milliseconds(500));
  }
  ADD_FAILURE() << "the broadcast did not finish within " << kFinishTimeout.count() << " s: " << st.dump();
  return st;
}

// Everything the acceptance asks of the server side, from the API and the database.
void expect_reconciled(Server& server, const Village& v, std::int64_t id, const json& st) {
  EXPECT_EQ(field(st, "persons"), kPersons) << st.dump();
  EXPECT_EQ(field(st, "reached"), kPersons) << st.dump();
  EXPECT_EQ(field(st, "finished"), kPersons) << st.dump();
  EXPECT_EQ(st.value("recipients", json::object()), (json{{"sent", kPersons}})) << st.dump();
  EXPECT_EQ(st.value("messages", json::object()), (json{{"sent", kPersons}})) << st.dump();
  const auto stop = server.terminate();
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_EQ(count(v.db, "SELECT COUNT(*) FROM core_outbox"), kPersons);
  EXPECT_EQ(count(v.db, "SELECT COUNT(*) FROM core_outbox WHERE status = 'sent'"), kPersons);
  EXPECT_EQ(count(v.db, "SELECT COUNT(*) FROM core_outbox WHERE status IN ('queued', 'sending')"), 0);
  EXPECT_EQ(count(v.db, "SELECT COUNT(DISTINCT person_id) FROM core_outbox WHERE status = 'sent'"), kPersons);
  EXPECT_EQ(count(v.db, "SELECT COUNT(*) FROM core_broadcast_recipients WHERE broadcast_id = " + std::to_string(id) +
                            " AND outbox_id IS NOT NULL"),
            kPersons);
  EXPECT_EQ(count(v.db, "SELECT COUNT(*) FROM core_outbox WHERE sent_at_ms IS NULL OR provider_id IS NULL"), 0)
      << "every sent row records when and the gateway's id";
  std::cout << "[crash] outbox attempts beyond the first: "
            << count(v.db, "SELECT COALESCE(SUM(attempts), 0) - COUNT(*) FROM core_outbox") << "\n";
  storage::SqliteStorage db(v.db.string());
  db.read([](Session& s) { EXPECT_EQ(s.query("PRAGMA integrity_check")[0].text(0), "ok"); });
}

// What the gateway saw: everyone at least once, at most `concurrency` more (without
// dedupe), none twice with dedupe by Idempotency-Key.
void expect_gateway(const MockGateway& gw, bool dedupe) {
  const auto phones = all_phones();
  const auto got = gw.recipients();
  EXPECT_EQ(got.size(), static_cast<std::size_t>(kPersons)) << "every person received the message";
  std::size_t missing = 0;
  std::size_t strangers = 0;
  for (const auto& p : phones)
    if (!got.contains(p)) ++missing;
  for (const auto& [p, n] : got)
    if (!phones.contains(p)) ++strangers;
  EXPECT_EQ(missing, 0U) << "persons who never got the message";
  EXPECT_EQ(strangers, 0U) << "messages to addresses outside the village";
  std::size_t extra = 0;
  for (const auto& [p, n] : gw.duplicates()) extra += n - 1;
  std::size_t extra_keys = 0;
  for (const auto& [k, n] : gw.duplicate_keys()) extra_keys += n - 1;
  const auto c = gw.counts();
  std::cout << "[crash] gateway: " << c.requests << " requests, " << c.accepted << " recorded, " << extra
            << " duplicates recorded, " << c.deduplicated << " deduplicated by Idempotency-Key, " << c.connections
            << " connections\n";
  EXPECT_EQ(extra, extra_keys) << "a duplicate is the same outbox row (same Idempotency-Key) sent again";
  EXPECT_EQ(c.accepted, static_cast<std::size_t>(kPersons) + extra);
  if (dedupe) {
    EXPECT_EQ(extra, 0U) << "the gateway deduplicated by Idempotency-Key: nobody got it twice";
    EXPECT_LE(c.deduplicated, static_cast<std::size_t>(kConcurrency))
        << "sent again after the restart: at most the sends in flight at the kill";
  } else {
    EXPECT_LE(extra, static_cast<std::size_t>(kConcurrency))
        << "duplicates are bounded by the sends in flight at the kill (concurrency)";
    EXPECT_EQ(c.deduplicated, 0U);
  }
  for (const auto& m : gw.messages()) {
    if (m.idempotency_key.empty() || m.headers.count("idempotency-key") == 0) {
      ADD_FAILURE() << "a message without an Idempotency-Key header: " << m.body;
      break;
    }
  }
}

// POST a broadcast, kill -9 at a seeded moment of the drain (or at once), restart, wait, check.
void crash_and_recover(bool dedupe, std::uint32_t seed, bool kill_at_once) {
  MockGateway gw(MockGatewayOptions{.threads = 2, .seed = seed, .port = 0, .faults = {}});
  gw.set_dedupe_by_idempotency_key(dedupe);
  Village v(gw.url("/send"), kRatePerMinute);
  std::mt19937 rng(seed);
  const double kill_after_s =
      kill_at_once ? 0.0 : std::uniform_real_distribution<double>(0.1, 0.8)(rng) * kExpectedDrainS;
  std::cout << "[crash] seed " << seed << " (VILLAGEBOT_CRASH_SEED=" << seed << " repeats it); dedupe "
            << (dedupe ? "on" : "off") << "; kill -9 "
            << (kill_at_once ? std::string("right after the POST returned")
                             : std::to_string(kill_after_s) + " s after the POST returned")
            << "\n";
  ::testing::Test::RecordProperty("seed", std::to_string(seed));

  const auto t0 = SteadyClock::now();
  std::int64_t id = 0;
  std::size_t at_kill = 0;
  {
    Server server(v);
    id = post_broadcast(server);
    const auto posted = SteadyClock::now();
    if (!kill_at_once) {
      const auto kill_at =
          posted + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(kill_after_s));
      while (SteadyClock::now() < kill_at) {
        ASSERT_TRUE(server.alive()) << "the server exited before the kill";
        std::this_thread::sleep_for(std::min<SteadyClock::duration>(milliseconds(200), kill_at - SteadyClock::now()));
      }
    }
    server.kill9();
    at_kill = gw.accepted();
    const double drained_s = std::chrono::duration<double>(SteadyClock::now() - posted).count();
    std::cout << "[crash] killed after " << drained_s << " s with " << at_kill << " messages at the gateway ("
              << (drained_s > 0 ? static_cast<double>(at_kill) / drained_s : 0) << " /s)\n";
  }
  if (!kill_at_once) {
    EXPECT_GT(at_kill, 0U) << "the kill came while the outbox drained";
    EXPECT_LT(at_kill, static_cast<std::size_t>(kPersons)) << "the kill came while the outbox drained";
  }
  EXPECT_EQ(count(v.db, "SELECT COUNT(*) FROM core_outbox WHERE broadcast_id = " + std::to_string(id)), kPersons)
      << "the accepted broadcast is durable: all its messages survived the kill";

  Server server(v);
  const auto restarted = SteadyClock::now();
  const json st = wait_until_finished(server, id);
  const double after_s = std::chrono::duration<double>(SteadyClock::now() - restarted).count();
  std::cout << "[crash] finished " << after_s << " s after the restart; " << gw.accepted() - at_kill
            << " messages after it; " << std::chrono::duration<double>(SteadyClock::now() - t0).count()
            << " s in all\n";
  expect_reconciled(server, v, id, st);
  expect_gateway(gw, dedupe);
}

TEST(DeliveryCrash, KillDashNineWhileDrainingLosesNoneAndDuplicatesAtMostConcurrency) {
  crash_and_recover(false, crash_seed(), false);
}

TEST(DeliveryCrash, KillDashNineWhileDrainingWithGatewayDedupeDuplicatesNone) {
  crash_and_recover(true, crash_seed(), false);
}

TEST(DeliveryCrash, KillDashNineRightAfterTheBroadcastWasAcceptedSendsEverythingAfterRestart) {
  crash_and_recover(false, crash_seed(), true);
}

}  // namespace
}  // namespace villagebot::testkit
