// Fault injection (issue 13): what a village notices when the machine misbehaves, and that
// nothing the server accepted is ever lost.
//   - a full disk (a small tmpfs under the database, filled to the last byte; needs root);
//   - a locked database (another process holds SQLite's write lock for 12 s);
//   - every gateway down (connections refused: the generic webhook's reply_url and an sms-http
//     gateway), messages held rather than failed, then delivered once when the gateways return;
//   - the wall clock jumping back (held messages are pulled back) and forward (a scheduled notice
//     fires at once, and only once);
//   - kill -9 at seeded random moments under load (VILLAGEBOT_FAULT_SEED=<n> repeats a run).
// Every test checks, after the fault, that every message answered 200 (and every ledger write
// answered 201/200) is in the database exactly once, and that nothing refused was stored.
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/http_client.hpp"
#include "mock_gateway.hpp"
#include "process_support.hpp"
#include "testkit.hpp"
#include "villagebot/text.hpp"

namespace villagebot::testkit {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ::testing::HasSubstr;
using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

long long ms_since(SteadyClock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(SteadyClock::now() - t).count();
}

// ---------------------------------------------------------------------------------------------
// HTTP to a server on 127.0.0.1

struct Reply {
  int status = 0;  // 0: no HTTP answer (error says why)
  std::string body;
  std::string error;
  long long took_ms = 0;
  [[nodiscard]] json parsed() const { return json::parse(body, nullptr, false); }
};

Reply call(HttpClient& client, int port, const std::string& method, const std::string& path,
           const std::string& body = {}, std::vector<std::pair<std::string, std::string>> headers = {},
           milliseconds timeout = 30s) {
  ClientRequest req;
  req.method = method;
  req.url = "http://127.0.0.1:" + std::to_string(port) + path;
  req.body = body;
  req.headers = std::move(headers);
  if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
  req.timeout = timeout;
  const auto start = SteadyClock::now();
  auto r = client.request(req);
  return Reply{r.status, r.body, r.error, ms_since(start)};
}

Reply call(int port, const std::string& method, const std::string& path, const std::string& body = {},
           std::vector<std::pair<std::string, std::string>> headers = {}, milliseconds timeout = 30s) {
  http::BeastHttpClient client;
  return call(client, port, method, path, body, std::move(headers), timeout);
}

std::string webhook_body(const std::string& id, const std::string& sender, const std::string& text) {
  return json{{"message_id", id}, {"sender", sender}, {"text", text}}.dump();
}

std::vector<std::pair<std::string, std::string>> bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

bool is_duplicate(const Reply& r) {
  const auto j = r.parsed();
  return j.is_object() && j.value("duplicate", false);
}

std::string error_code(const Reply& r) {
  const auto j = r.parsed();
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return {};
  return j["error"].value("code", "");
}

// ---------------------------------------------------------------------------------------------
// /healthz and /metrics

struct Health {
  int http = 0;
  json body;
  long long took_ms = 0;
  [[nodiscard]] std::string status() const {
    return body.is_object() && body.contains("status") && body["status"].is_string() ? body["status"].get<std::string>()
                                                                                     : "";
  }
  // The first fault with this code (and component, when given); null when there is none.
  [[nodiscard]] json fault(const std::string& code, const std::string& component = {}) const {
    if (!body.is_object() || !body.contains("faults") || !body["faults"].is_array()) return nullptr;
    for (const auto& f : body["faults"])
      if (f.is_object() && f.value("code", "") == code && (component.empty() || f.value("component", "") == component))
        return f;
    return nullptr;
  }
  [[nodiscard]] bool has(const std::string& code, const std::string& component = {}) const {
    return !fault(code, component).is_null();
  }
  [[nodiscard]] std::string message(const std::string& code, const std::string& component = {}) const {
    const auto f = fault(code, component);
    return f.is_object() ? f.value("message", "") : "";
  }
  // For failure messages: the whole document.
  [[nodiscard]] std::string dump() const { return std::to_string(http) + " " + body.dump(); }
};

Health health(int port, milliseconds timeout = 15s) {
  const auto r = call(port, "GET", "/healthz", {}, {}, timeout);
  return Health{r.status, r.parsed(), r.took_ms};
}

// Polls /healthz until `pred` holds (or the limit passes); the last answer either way.
template <class Pred>
Health health_until(int port, Pred pred, milliseconds limit) {
  const auto deadline = SteadyClock::now() + limit;
  Health h = health(port);
  while (!pred(h) && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(200ms);
    h = health(port);
  }
  return h;
}

// A sample's value in the Prometheus text ("name value" or "name{...} value").
std::optional<double> metric(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    if (line[name.size()] != ' ' && line[name.size()] != '{') continue;
    return std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// The database, read with SQLite's C API (also while the server runs: WAL readers never wait)

class Sql {
 public:
  explicit Sql(const fs::path& db, bool writable = false) {
    const int flags = writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
    if (sqlite3_open_v2(db.c_str(), &db_, flags, nullptr) != SQLITE_OK)
      throw std::runtime_error("cannot open " + db.string() + ": " + sqlite3_errmsg(db_));
    sqlite3_busy_timeout(db_, 5000);
  }
  ~Sql() { sqlite3_close_v2(db_); }
  Sql(const Sql&) = delete;
  Sql& operator=(const Sql&) = delete;

  // SQLITE_OK or the error code; error() has SQLite's words.
  int exec(const std::string& sql) { return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr); }
  [[nodiscard]] std::string error() const { return sqlite3_errmsg(db_); }

  std::int64_t scalar(const std::string& sql, const std::vector<std::string>& args = {}) {
    std::int64_t out = -1;
    each(sql, args, [&](sqlite3_stmt* s) { out = sqlite3_column_int64(s, 0); });
    return out;
  }
  std::vector<std::string> texts(const std::string& sql, const std::vector<std::string>& args = {}) {
    std::vector<std::string> out;
    each(sql, args, [&](sqlite3_stmt* s) {
      const auto* t = sqlite3_column_text(s, 0);
      out.emplace_back(t != nullptr ? reinterpret_cast<const char*>(t) : "");
    });
    return out;
  }

 private:
  template <class Fn>
  void each(const std::string& sql, const std::vector<std::string>& args, Fn fn) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    for (std::size_t i = 0; i < args.size(); ++i)
      sqlite3_bind_text(stmt, static_cast<int>(i + 1), args[i].c_str(), -1, SQLITE_TRANSIENT);
    int rc = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) fn(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
  }
  sqlite3* db_ = nullptr;
};

// How many times each message id is in the message log (inbound, generic webhook).
std::map<std::string, std::int64_t> stored_ids(const fs::path& db) {
  Sql sql(db);
  std::map<std::string, std::int64_t> out;
  for (const auto& id :
       sql.texts("SELECT message_id FROM core_messages WHERE direction = 'in' AND adapter_id = 'generic'"))
    ++out[id];
  return out;
}

// NOTHING ACCEPTED IS LOST: every id answered 200 is stored exactly once; ids answered 503 and
// never accepted later are not stored at all. Returns the number of accepted ids checked.
std::size_t expect_stored_exactly_once(const fs::path& db, const std::set<std::string>& accepted,
                                       const std::set<std::string>& refused = {}) {
  const auto stored = stored_ids(db);
  std::size_t lost = 0;
  std::size_t twice = 0;
  for (const auto& id : accepted) {
    const auto it = stored.find(id);
    if (it == stored.end()) {
      if (++lost <= 10) ADD_FAILURE() << "answered 200 but not in the message log: " << id;
    } else if (it->second != 1) {
      if (++twice <= 10) ADD_FAILURE() << id << " is in the message log " << it->second << " times";
    }
  }
  for (const auto& id : refused)
    if (!accepted.contains(id) && stored.contains(id)) ADD_FAILURE() << "answered 503 but stored: " << id;
  EXPECT_EQ(lost, 0U) << "accepted messages lost";
  EXPECT_EQ(twice, 0U);
  return accepted.size() - lost;
}

// ---------------------------------------------------------------------------------------------
// `villagebot serve`, the real binary

class Serve {
 public:
  explicit Serve(const fs::path& config) : child_({VILLAGEBOT_EXE, "serve", "--config", config.string()}) {
    port_ = port_from_line(child_.wait_for_line("listening on", 60s));
    if (port_ <= 0) {
      const auto r = child_.wait(100ms);
      throw std::runtime_error("villagebot serve did not start: " + r.out + r.err);
    }
  }
  [[nodiscard]] int port() const { return port_; }
  // Reads what the server printed so far (its pipes never fill); false once it has exited.
  bool alive() { return child_.wait(1ms).exit_code == -2; }
  // Everything it wrote to standard error (the log) so far.
  std::string log() { return child_.wait(1ms).err; }
  RunResult stop(int sig, milliseconds timeout = 30s) {
    child_.signal(sig);
    return child_.wait(timeout);
  }

 private:
  Child child_;
  int port_ = 0;
};

// The last n lines of a log.
std::string last_lines(const std::string& log, int n) {
  std::size_t at = log.size();
  for (int i = 0; i <= n && at != std::string::npos && at > 0; ++i) at = log.rfind('\n', at - 1);
  return at == std::string::npos ? log : log.substr(at + 1);
}

std::string create_token(const fs::path& config, const std::string& name, const std::string& role,
                         const std::string& person = {}) {
  std::vector<std::string> args{VILLAGEBOT_EXE, "token", "create",   "--name",       name,
                                "--role",       role,    "--config", config.string()};
  if (!person.empty()) args.insert(args.end(), {"--person", person});
  const auto r = run(args);
  if (r.exit_code != 0) throw std::runtime_error("token create failed: " + r.out + r.err);
  return r.out.substr(0, r.out.find('\n'));
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// ---------------------------------------------------------------------------------------------
// A small file system: a tmpfs mounted for the test, unmounted (lazily) whatever happens.

class Tmpfs {
 public:
  Tmpfs(const fs::path& dir, const std::string& size) : dir_(dir) {
    if (::geteuid() != 0) {
      why_ = "mounting a tmpfs needs root (this process runs as uid " + std::to_string(::geteuid()) +
             "); CI runs the fault tests as root";
      return;
    }
    fs::create_directories(dir);
    const std::string options = "size=" + size + ",mode=0700";
    if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      why_ = "mount -t tmpfs -o " + options + " tmpfs " + dir.string() + " failed: " + std::strerror(errno) +
             " (a container without CAP_SYS_ADMIN?)";
      return;
    }
    mounted_ = true;
  }
  ~Tmpfs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);  // umount -l
  }
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;
  [[nodiscard]] bool mounted() const { return mounted_; }
  [[nodiscard]] const std::string& why() const { return why_; }

 private:
  fs::path dir_;
  bool mounted_ = false;
  std::string why_;
};

std::uint64_t free_bytes(const fs::path& dir) {
  struct statvfs s {};
  if (::statvfs(dir.c_str(), &s) != 0) return 0;
  return static_cast<std::uint64_t>(s.f_bavail) * s.f_frsize;
}

// Writes into `file` until the file system says ENOSPC, in smaller and smaller pieces so that
// not a block is left; returns the bytes written.
std::uint64_t fill_disk(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + file.string() + ": " + std::strerror(errno));
  std::vector<char> block(256 * 1024, 'x');
  std::size_t piece = block.size();
  std::uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::write(fd, block.data(), piece);
    if (n > 0) {
      total += static_cast<std::uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != ENOSPC) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      throw std::runtime_error("filling the disk: " + why);
    }
    if (piece == 1) break;
    piece = std::max<std::size_t>(1, piece / 4);
  }
  ::fsync(fd);
  ::close(fd);
  return total;
}

// ---------------------------------------------------------------------------------------------
// A wall clock the test moves: the real time plus an offset (so it ticks like a real clock).

class JumpingClock {
 public:
  [[nodiscard]] std::function<std::chrono::system_clock::time_point()> fn() const {
    return [offset = offset_] { return std::chrono::system_clock::now() + milliseconds(offset->load()); };
  }
  void jump(milliseconds by) { offset_->fetch_add(by.count()); }
  [[nodiscard]] std::int64_t now_ms() const {
    return std::chrono::duration_cast<milliseconds>(fn()().time_since_epoch()).count();
  }

 private:
  std::shared_ptr<std::atomic<std::int64_t>> offset_ = std::make_shared<std::atomic<std::int64_t>>(0);
};

// The small village's phones as the directory stores them (what the gateways receive).
std::set<std::string> village_phones() {
  std::set<std::string> out;
  for (const char* p : {"13800000001", "13800000002", "13800000003", "13800000004", "13800000009"})
    out.insert(text::normalise_phone(p).value_or(p));
  return out;
}

// Every phone of the village exactly once at this gateway; a readable account otherwise.
std::string once_each(const MockGateway& gw) {
  const auto got = gw.recipients();
  std::string problems;
  for (const auto& phone : village_phones()) {
    const auto it = got.find(phone);
    const std::size_t n = it == got.end() ? 0 : it->second;
    if (n != 1) problems += phone + " got " + std::to_string(n) + "; ";
  }
  for (const auto& [who, n] : got)
    if (!village_phones().contains(who)) problems += "unexpected recipient " + who + "; ";
  return problems;
}

// =============================================================================================
// 1. A full disk

TEST(Faults, AFullDiskRefusesMessagesWith503AndRecoversWhenSpaceIsFreed) {
  const auto test_start = SteadyClock::now();
  ProcessVillage v({"points"}, "", "", false);
  Tmpfs disk(v.dir / "disk", "8m");
  if (!disk.mounted()) GTEST_SKIP() << disk.why();
  const fs::path db = v.dir / "disk" / "villagebot.db";
  {
    std::string toml = read_file(v.config);
    const auto at = toml.find(v.db.string());
    ASSERT_NE(at, std::string::npos);
    toml.replace(at, v.db.string().size(), db.string());
    std::ofstream(v.config) << toml;
    std::ofstream(v.dir / "people.csv") << kSmallVillageCsv;
    const auto r =
        run({VILLAGEBOT_EXE, "import", "people", (v.dir / "people.csv").string(), "--config", v.config.string()});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  const std::string token = create_token(v.config, "faults-reader", "admin");

  Serve server(v.config);
  const int port = server.port();
  http::BeastHttpClient client;
  std::set<std::string> accepted;
  std::set<std::string> refused;
  long long slowest_ms = 0;
  int next = 0;
  // One villager's 积分; the status, and the id in `accepted` or `refused`.
  auto send = [&]() -> Reply {
    const std::string id = "disk-" + std::to_string(next++);
    auto r = call(client, port, "POST", "/hooks/generic", webhook_body(id, "13800000001", "积分"), {}, 20s);
    slowest_ms = std::max(slowest_ms, r.took_ms);
    if (r.status == 200) accepted.insert(id);
    if (r.status == 503) refused.insert(id);
    return r;
  };

  for (int i = 0; i < 10; ++i) ASSERT_EQ(send().status, 200) << "before the disk is full";

  const auto filled = fill_disk(v.dir / "disk" / "filler");
  std::printf("[ figures  ] filled the 8 MiB tmpfs with %llu bytes; %llu bytes left\n",
              static_cast<unsigned long long>(filled), static_cast<unsigned long long>(free_bytes(v.dir / "disk")));

  // Writes fail: the senders are told 503 (retry later), quickly, never a hang.
  Reply first_refusal;
  const auto fill_done = SteadyClock::now();
  int sends_until_refused = 0;
  for (int i = 0; i < 200 && ms_since(fill_done) < 60000; ++i) {
    auto r = send();
    ++sends_until_refused;
    ASSERT_TRUE(r.status == 200 || r.status == 503) << r.status << " " << r.body << r.error;
    if (r.status == 503) {
      first_refusal = r;
      break;
    }
  }
  ASSERT_EQ(first_refusal.status, 503) << "no write failed in " << sends_until_refused
                                       << " messages on a full disk (the database is on " << db << ")";
  EXPECT_EQ(error_code(first_refusal), "unavailable") << first_refusal.body;

  // For a few seconds: every message is refused, and /healthz says failing whenever it is asked
  // (an operator's probe must not see "degraded" while villagers are refused).
  int polls = 0;
  int polls_failing = 0;
  int accepted_while_full = 0;
  Health h;     // the first answer that says failing
  Health flap;  // the first that does not, if any
  for (int i = 0; i < 8; ++i) {
    const auto r = send();
    if (r.status == 200) ++accepted_while_full;
    EXPECT_TRUE(r.status == 200 || r.status == 503) << r.status << " " << r.body << r.error;
    const auto now = health(port);
    ++polls;
    if (now.status() == "failing") {
      ++polls_failing;
      if (h.http == 0) h = now;
    } else if (flap.http == 0) {
      flap = now;
    }
    std::this_thread::sleep_for(400ms);
  }
  EXPECT_EQ(polls_failing, polls) << "/healthz stopped saying failing while the disk was still full, e.g. "
                                  << flap.dump() << "\nthe log:\n"
                                  << last_lines(server.log(), 12);
  EXPECT_NE(h.http, 0) << "/healthz never said failing on a full disk: " << flap.dump();
  if (h.http != 0) {  // what it says when it does (the recovery below is checked either way)
    EXPECT_EQ(h.http, 503) << h.dump();
    EXPECT_TRUE(h.has("database_writes_failing", "database")) << h.dump();
    EXPECT_THAT(h.message("database_writes_failing"), HasSubstr("full")) << "the fault names the full disk";
    EXPECT_TRUE(h.has("disk_low", "disk")) << "8 MiB is less than 64 MiB free: " << h.dump();
    EXPECT_TRUE(h.fault("database_writes_failing")["since_ms"].is_number_integer()) << h.dump();
    if (h.body.contains("database") && h.body["database"].contains("writes")) {
      EXPECT_EQ(h.body["database"]["writes"].value("state", ""), "failing") << h.dump();
    }
  }
  // /metrics and the read-only API answer; the log names the fault. (Another message first, so that
  // the writes are failing right now.)
  send();
  const auto metrics = call(port, "GET", "/metrics", {}, {}, 15s);
  EXPECT_EQ(metrics.status, 200) << metrics.error;
  EXPECT_EQ(metric(metrics.body, "villagebot_up"), 0.0);
  EXPECT_GE(metric(metrics.body, "villagebot_faults").value_or(0), 2.0) << "writes failing and the low disk";
  const auto balance = call(port, "GET", "/api/v1/points/balances/H001", {}, bearer(token), 15s);
  EXPECT_EQ(balance.status, 200) << "read-only routes keep answering: " << balance.body << balance.error;
  EXPECT_LT(std::max({h.took_ms, flap.took_ms, metrics.took_ms, balance.took_ms}), 5000);
  const auto failing_log = server.log();
  EXPECT_THAT(failing_log, HasSubstr("database writes failing"));
  EXPECT_THAT(failing_log, HasSubstr("database or disk is full"));

  // Space again: the next messages are taken, the fault clears, the log says so.
  const std::size_t log_before_freeing = server.log().size();
  fs::remove(v.dir / "disk" / "filler");
  const auto freed = SteadyClock::now();
  int refused_after_freeing = 0;
  long long recovered_ms = -1;
  for (int i = 0; i < 10; ++i) {
    const auto r = send();
    if (r.status == 200 && recovered_ms < 0) recovered_ms = ms_since(freed);
    if (r.status != 200) ++refused_after_freeing;
  }
  EXPECT_EQ(refused_after_freeing, 0) << "the next sends after freeing space are accepted";
  const auto healed = health_until(
      port, [](const Health& x) { return !x.has("database_writes_failing"); }, 10s);
  EXPECT_FALSE(healed.has("database_writes_failing")) << healed.dump();
  EXPECT_EQ(healed.http, 200) << healed.dump();
  EXPECT_EQ(healed.status(), "degraded") << "only the low disk is left: " << healed.dump();
  const auto metrics_after = call(port, "GET", "/metrics");
  EXPECT_EQ(metric(metrics_after.body, "villagebot_up"), 1.0) << "degraded is still up";
  EXPECT_THAT(server.log().substr(log_before_freeing), HasSubstr("database writes work again"));

  // The senders retry what was refused: accepted now as new messages (it was never stored).
  int retried_as_duplicate = 0;
  for (const auto& id : refused) {
    const auto r = call(client, port, "POST", "/hooks/generic", webhook_body(id, "13800000001", "积分"), {}, 20s);
    EXPECT_EQ(r.status, 200) << id << ": " << r.body << r.error;
    if (is_duplicate(r)) ++retried_as_duplicate;
  }
  EXPECT_EQ(retried_as_duplicate, 0) << "a message answered 503 had been stored";
  const std::set<std::string> refused_then = refused;
  for (const auto& id : refused_then) accepted.insert(id);

  const auto stopped = server.stop(SIGTERM);
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err.substr(stopped.err.size() > 4000 ? stopped.err.size() - 4000 : 0);
  const auto checked = expect_stored_exactly_once(db, accepted);
  EXPECT_EQ(stored_ids(db).size(), accepted.size()) << "nothing else was stored";
  std::printf(
      "[ figures  ] full disk: %zu messages accepted (%zu of them first refused with 503 and re-sent), lost %zu; "
      "%d sends after filling until the first 503, then %d of 8 accepted while full; /healthz failing in %d of %d "
      "polls; slowest answer %lld ms; accepted again %lld ms after freeing; %lld ms in all\n",
      accepted.size(), refused_then.size(), accepted.size() - checked, sends_until_refused, accepted_while_full,
      polls_failing, polls, slowest_ms, recovered_ms, ms_since(test_start));
  EXPECT_LT(slowest_ms, 10000) << "every request was answered within a few seconds";
}

// =============================================================================================
// 2. A locked database

TEST(Faults, ALockedDatabaseRefusesMessagesAfterTheBusyTimeoutAndRecovers) {
  constexpr auto kHold = 12s;
  constexpr long long kBusyTimeoutMs = 5000;
  const auto test_start = SteadyClock::now();
  ProcessVillage v({"points"});
  const std::string token = create_token(v.config, "faults-reader", "admin");
  Serve server(v.config);
  const int port = server.port();

  std::mutex mutex;
  std::set<std::string> accepted;
  std::set<std::string> refused;
  std::vector<std::string> other;  // anything but 200 and 503
  std::atomic<long long> slowest_ms{0};
  std::atomic<bool> stop{false};
  std::atomic<int> counter{0};
  auto sender = [&](int t) {
    http::BeastHttpClient client;
    while (!stop) {
      const std::string id = "lock-" + std::to_string(t) + "-" + std::to_string(counter++);
      const auto r = call(client, port, "POST", "/hooks/generic", webhook_body(id, "13800000001", "积分"), {}, 30s);
      long long prev = slowest_ms;
      while (r.took_ms > prev && !slowest_ms.compare_exchange_weak(prev, r.took_ms)) {
      }
      std::lock_guard lock(mutex);
      if (r.status == 200) {
        accepted.insert(id);
      } else if (r.status == 503 && error_code(r) == "unavailable") {
        refused.insert(id);
      } else {
        other.push_back(id + ": " + std::to_string(r.status) + " " + r.body + r.error);
      }
      if (r.status != 200) std::this_thread::sleep_for(100ms);
    }
  };

  // Some traffic first, then another process takes the write lock.
  for (int i = 0; i < 5; ++i) {
    const auto r =
        call(port, "POST", "/hooks/generic", webhook_body("lock-warm-" + std::to_string(i), "13800000001", "积分"));
    ASSERT_EQ(r.status, 200) << r.body << r.error;
    accepted.insert("lock-warm-" + std::to_string(i));
  }
  auto locker = std::make_unique<Sql>(v.db, true);
  ASSERT_EQ(locker->exec("BEGIN IMMEDIATE"), SQLITE_OK) << locker->error();
  const auto locked_at = SteadyClock::now();
  std::vector<std::thread> senders;
  for (int t = 0; t < 2; ++t) senders.emplace_back(sender, t);

  // While it is held: /healthz, /metrics and reads answer at once; the fault shows once a write failed.
  Health seen_failing;
  long long slowest_read_ms = 0;
  int metrics_ok = 0;
  int reads_ok = 0;
  int polls = 0;
  while (SteadyClock::now() < locked_at + kHold) {
    const auto h = health(port);
    const auto m = call(port, "GET", "/metrics", {}, {}, 15s);
    const auto b = call(port, "GET", "/api/v1/points/balances/H001", {}, bearer(token), 15s);
    ++polls;
    slowest_read_ms = std::max({slowest_read_ms, h.took_ms, m.took_ms, b.took_ms});
    if (m.status == 200) ++metrics_ok;
    if (b.status == 200) ++reads_ok;
    if (h.has("database_writes_failing") && seen_failing.http == 0) seen_failing = h;
    std::this_thread::sleep_for(500ms);
  }
  {
    std::lock_guard lock(mutex);
    EXPECT_FALSE(refused.empty()) << "no message was refused while another process held the write lock";
  }
  ASSERT_EQ(locker->exec("ROLLBACK"), SQLITE_OK) << locker->error();
  locker.reset();
  const auto released = SteadyClock::now();

  EXPECT_EQ(polls, metrics_ok) << "/metrics answered every time";
  EXPECT_EQ(polls, reads_ok) << "read-only API routes answered every time";
  EXPECT_LT(slowest_read_ms, 3000) << "reads never wait for the writer (WAL)";
  EXPECT_EQ(seen_failing.http, 503) << seen_failing.dump();
  EXPECT_EQ(seen_failing.status(), "failing") << seen_failing.dump();
  EXPECT_THAT(seen_failing.message("database_writes_failing", "database"), HasSubstr("locked")) << seen_failing.dump();

  // Released: messages are taken again, the fault clears.
  long long recovered_ms = -1;
  while (ms_since(released) < 15000) {
    const std::string id = "lock-after-" + std::to_string(counter++);
    const auto r = call(port, "POST", "/hooks/generic", webhook_body(id, "13800000001", "积分"));
    {
      std::lock_guard lock(mutex);
      if (r.status == 200) {
        recovered_ms = ms_since(released);
        accepted.insert(id);
        break;
      }
      if (r.status == 503) refused.insert(id);
    }
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_GE(recovered_ms, 0) << "no message was accepted within 15 s of releasing the lock";
  std::this_thread::sleep_for(1s);  // the senders run on, now accepted
  stop = true;
  for (auto& t : senders) t.join();
  const auto healed = health_until(
      port, [](const Health& x) { return x.status() == "ok"; }, 10s);
  EXPECT_EQ(healed.http, 200) << healed.dump();
  EXPECT_EQ(healed.status(), "ok") << healed.dump();
  EXPECT_FALSE(healed.has("database_writes_failing")) << healed.dump();
  const auto log = server.log();
  EXPECT_THAT(log, HasSubstr("database writes failing"));
  EXPECT_THAT(log, HasSubstr("database is locked"));
  EXPECT_THAT(log, HasSubstr("database writes work again"));
  EXPECT_TRUE(other.empty()) << other.size() << " answers were neither 200 nor 503, e.g. " << other.front();

  // The refused ones, sent again, are new messages.
  int retried_as_duplicate = 0;
  for (const auto& id : refused) {
    const auto r = call(port, "POST", "/hooks/generic", webhook_body(id, "13800000001", "积分"));
    EXPECT_EQ(r.status, 200) << id << ": " << r.body << r.error;
    if (r.status == 200) accepted.insert(id);
    if (is_duplicate(r)) ++retried_as_duplicate;
  }
  EXPECT_EQ(retried_as_duplicate, 0) << "a message answered 503 had been stored";
  const auto stopped = server.stop(SIGTERM);
  EXPECT_EQ(stopped.exit_code, 0);
  const auto checked = expect_stored_exactly_once(v.db, accepted);
  std::printf(
      "[ figures  ] locked database (held %lld s): %zu messages accepted (%zu first refused with 503 and re-sent), "
      "lost %zu; slowest webhook answer %lld ms (busy timeout %lld ms); slowest read while locked %lld ms; "
      "accepted again %lld ms after the release; %lld ms in all\n",
      static_cast<long long>(kHold.count()), accepted.size(), refused.size(), accepted.size() - checked,
      slowest_ms.load(), kBusyTimeoutMs, slowest_read_ms, recovered_ms, ms_since(test_start));
  EXPECT_LE(slowest_ms.load(), 2 * kBusyTimeoutMs + 3000) << "no hang beyond the busy timeout";
}

// =============================================================================================
// 3. Every gateway down

// The generic webhook's reply_url and an sms-http gateway at these mock gateways; held sends retry
// every second; a retryable failure would be final after 2 attempts 200 ms apart.
Options two_gateways(const MockGateway& chat, const MockGateway& sms) {
  Options o;
  o.plugins = {"points"};
  o.adapter_toml = "reply_url = \"" + chat.url("/send") + "\"\nsend_timeout_ms = 2000\n";
  o.extra_toml = "[[adapters]]\nid = \"sms\"\ntype = \"sms-http\"\nurl = \"" + sms.url("/sms") +
                 "\"\ncontent_type = \"json\"\n"
                 "body = '{\"to\":\"{{to}}\",\"text\":\"{{text}}\",\"message_id\":\"{{id}}\"}'\n"
                 "timeout_ms = 2000\n\n"
                 "[delivery]\nmax_attempts = 2\nretry_base_ms = 200\nretry_max_ms = 400\ngateway_retry_ms = 1000\n";
  return o;
}

TEST(Faults, EveryGatewayDownHoldsTheMessagesAndDeliversThemOnceWhenTheGatewaysReturn) {
  const auto test_start = SteadyClock::now();
  MockGateway chat;
  MockGateway sms;
  chat.crash();  // connections refused from the start
  sms.crash();
  TestServer server(two_gateways(chat, sms));
  const int port = server.port();
  ApiClient admin(server, "admin");

  const auto personal = admin.call(
      "POST", "/api/v1/broadcasts",
      {{"text", "停电通知：明天上午9点到12点停电。"}, {"audience", {{"everyone", true}}}, {"policy", "personal_all"}});
  ASSERT_EQ(personal.status, 201) << personal.raw;
  const auto by_sms = admin.call(
      "POST", "/api/v1/broadcasts",
      {{"text", "防汛通知：今晚有暴雨，请注意安全。"}, {"audience", {{"everyone", true}}}, {"policy", "sms_all"}});
  ASSERT_EQ(by_sms.status, 201) << by_sms.raw;
  const auto broadcast_at = SteadyClock::now();
  ASSERT_EQ(personal.body["plan"]["persons"], 5) << personal.raw;
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_outbox WHERE adapter_id = 'generic'"), 5);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_outbox WHERE adapter_id = 'sms'"), 5);

  // Within seconds both adapters are reported down; the server is degraded, not failing.
  const auto down = health_until(
      port,
      [](const Health& h) { return h.has("gateway_down", "adapter:generic") && h.has("gateway_down", "adapter:sms"); },
      10s);
  const long long noticed_ms = ms_since(broadcast_at);
  EXPECT_TRUE(down.has("gateway_down", "adapter:generic")) << down.dump();
  EXPECT_TRUE(down.has("gateway_down", "adapter:sms")) << down.dump();
  EXPECT_EQ(down.http, 200) << down.dump();
  EXPECT_EQ(down.status(), "degraded") << down.dump();
  if (down.body.contains("delivery") && down.body["delivery"].contains("generic")) {
    EXPECT_EQ(down.body["delivery"]["generic"].value("state", ""), "gateway_down") << down.dump();
  }

  // Villagers' messages still come in and are answered meanwhile.
  const auto inbound = server.post_webhook(webhook_body("gw-down-1", "13800000001", "积分"));
  EXPECT_EQ(inbound.status, 200) << inbound.body << inbound.error;
  const auto answer = json::parse(inbound.body, nullptr, false);
  EXPECT_TRUE(answer.is_object() && answer.contains("replies") && !answer["replies"].empty()) << inbound.body;

  // Long past what 2 attempts 200 ms apart would take: nothing failed, no attempt used up.
  std::this_thread::sleep_until(broadcast_at + 6s);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_outbox WHERE status IN ('failed', 'expired')"), 0)
      << "held, not dead-lettered";
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_outbox WHERE status IN ('queued', 'sending')"), 10);
  const auto max_attempts_used = server.count("SELECT COALESCE(MAX(attempts), 0) FROM core_outbox");
  EXPECT_EQ(max_attempts_used, 0) << "a refused connection is not counted as an attempt";
  const auto dead = admin.call("GET", "/api/v1/outbox/dead");
  EXPECT_EQ(dead.status, 200) << dead.raw;
  EXPECT_EQ(dead.raw.find("停电通知"), std::string::npos) << dead.raw;
  const auto refused_requests = chat.requests_total() + sms.requests_total();
  EXPECT_EQ(refused_requests, 0U) << "the gateways were down: nothing reached them";

  // The gateways come back on the same ports: everyone gets each message once.
  chat.restart();
  sms.restart();
  const auto back_at = SteadyClock::now();
  const bool all_arrived = chat.wait_for_accepted(5, 20s) && sms.wait_for_accepted(5, 20s);
  const long long delivered_ms = ms_since(back_at);
  EXPECT_TRUE(all_arrived) << "chat " << chat.accepted() << ", sms " << sms.accepted() << " of 5 each";
  std::this_thread::sleep_for(1500ms);  // anything sent twice would be here by now
  EXPECT_EQ(once_each(chat), "");
  EXPECT_EQ(once_each(sms), "");
  EXPECT_TRUE(
      eventually([&] { return server.count("SELECT COUNT(*) FROM core_outbox WHERE status = 'sent'") == 10; }, 10s))
      << server.count("SELECT COUNT(*) FROM core_outbox WHERE status = 'sent'") << " of 10 sent";
  const auto healed = health_until(
      port, [](const Health& h) { return !h.has("gateway_down"); }, 10s);
  EXPECT_FALSE(healed.has("gateway_down")) << healed.dump();
  EXPECT_EQ(healed.status(), "ok") << healed.dump();
  EXPECT_EQ(healed.http, 200);
  std::printf(
      "[ figures  ] every gateway down: 10 messages to 5 persons held (max attempts used %lld, 0 failed); "
      "gateway_down reported %lld ms after the broadcasts; delivered %zu + %zu (lost %zu) %lld ms after the "
      "gateways returned; %lld ms in all\n",
      static_cast<long long>(max_attempts_used), noticed_ms, chat.accepted(), sms.accepted(),
      10 - std::min<std::size_t>(10, chat.accepted() + sms.accepted()), delivered_ms, ms_since(test_start));
}

// =============================================================================================
// 4. Clock jumps (the server's wall clock is the test's; its monotonic clock is the machine's)

TEST(Faults, AClockJumpBackDoesNotStrandHeldMessages) {
  const auto test_start = SteadyClock::now();
  MockGateway gw;
  gw.crash();
  JumpingClock clock;
  Options o;
  o.adapter_toml = "reply_url = \"" + gw.url("/send") + "\"\nsend_timeout_ms = 2000\n";
  o.extra_toml = "[delivery]\ngateway_retry_ms = 1000\n";
  o.now = clock.fn();
  TestServer server(o);
  const int port = server.port();
  ApiClient admin(server, "admin");
  const auto b = admin.call(
      "POST", "/api/v1/broadcasts",
      {{"text", "自来水管道检修，今天下午停水。"}, {"audience", {{"everyone", true}}}, {"policy", "personal_all"}});
  ASSERT_EQ(b.status, 201) << b.raw;
  const auto held = health_until(
      port, [](const Health& h) { return h.has("gateway_down", "adapter:generic"); }, 10s);
  EXPECT_TRUE(held.has("gateway_down", "adapter:generic")) << held.dump();
  std::this_thread::sleep_for(1500ms);  // held sends wait for their next try, a second ahead

  clock.jump(-2h);
  const auto jumped_at = SteadyClock::now();
  const auto noticed = health_until(
      port, [](const Health& h) { return h.has("clock_jumped", "clock"); }, 15s);
  const long long noticed_ms = ms_since(jumped_at);
  EXPECT_TRUE(noticed.has("clock_jumped", "clock")) << noticed.dump();
  EXPECT_THAT(noticed.message("clock_jumped"), HasSubstr("back")) << noticed.dump();
  const auto said = noticed.message("clock_jumped");
  const auto back_by = said.find("back ") == std::string::npos ? -1 : std::atol(said.c_str() + said.find("back ") + 5);
  EXPECT_NEAR(back_by, 7200, 2) << "by how many seconds: " << said;
  EXPECT_EQ(noticed.http, 200) << noticed.dump();
  EXPECT_NE(noticed.status(), "failing") << noticed.dump();

  // Without the pull-back the held messages would wait two hours for their next try.
  gw.restart();
  const auto back_at = SteadyClock::now();
  EXPECT_TRUE(gw.wait_for_accepted(5, 15s)) << gw.accepted() << " of 5 within 15 s of the gateway's return";
  const long long delivered_ms = ms_since(back_at);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(once_each(gw), "");
  const auto still = health(port);
  EXPECT_TRUE(still.has("clock_jumped")) << "reported for an hour after the jump: " << still.dump();
  EXPECT_FALSE(still.has("gateway_down")) << still.dump();
  std::printf(
      "[ figures  ] clock 2 h back: jump noticed after %lld ms; %zu of 5 held messages delivered (lost %zu) %lld ms "
      "after the gateway returned; %lld ms in all\n",
      noticed_ms, gw.accepted(), 5 - std::min<std::size_t>(5, gw.accepted()), delivered_ms, ms_since(test_start));
}

TEST(Faults, AClockJumpForwardFiresADueNoticeOnceAndOnlyOnce) {
  const auto test_start = SteadyClock::now();
  MockGateway gw;
  JumpingClock clock;
  Options o;
  o.plugins = {"announcements"};
  o.plugin_sections = {{"announcements", "reminder_after_hours = 0\n"}};
  o.adapter_toml = "reply_url = \"" + gw.url("/send") + "\"\n";
  o.now = clock.fn();
  TestServer server(o);
  const int port = server.port();
  ApiClient admin(server, "admin");
  const auto notice = admin.call("POST", "/api/v1/announcements/notices",
                                 {{"title", "村民大会"},
                                  {"body", "本周六上午9点在村委会召开村民大会。"},
                                  {"audience", {{"everyone", true}}},
                                  {"scheduled_at", clock.now_ms() + 30 * 60 * 1000}});
  ASSERT_EQ(notice.status, 201) << notice.raw;
  ASSERT_EQ(notice.body["notice"]["status"], "scheduled") << notice.raw;
  const auto id = notice.body["notice"]["id"].get<std::int64_t>();
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(gw.accepted(), 0U) << "not before its time";

  // An hour forward: the notice is due and goes out without anyone poking the scheduler.
  clock.jump(1h);
  const auto jumped_at = SteadyClock::now();
  EXPECT_TRUE(gw.wait_for_accepted(5, 15s)) << gw.accepted() << " of 5 within 15 s of the jump";
  const long long fired_ms = ms_since(jumped_at);
  const auto noticed = health_until(
      port, [](const Health& h) { return h.has("clock_jumped", "clock"); }, 10s);
  EXPECT_TRUE(noticed.has("clock_jumped", "clock")) << noticed.dump();
  EXPECT_THAT(noticed.message("clock_jumped"), HasSubstr("forward")) << noticed.dump();
  EXPECT_EQ(noticed.status(), "degraded") << noticed.dump();
  EXPECT_EQ(noticed.http, 200);

  // Two more moves, a small one forward and one back: nothing fires again.
  clock.jump(2min);
  std::this_thread::sleep_for(2s);
  clock.jump(-90s);
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(gw.accepted(), 5U);
  EXPECT_EQ(once_each(gw), "");
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_broadcasts"), 1);
  const auto detail = admin.call("GET", "/api/v1/announcements/notices/" + std::to_string(id));
  EXPECT_EQ(detail.body["notice"]["status"], "sent") << detail.raw;
  std::printf(
      "[ figures  ] clock 1 h forward: the notice due in 30 min went out %lld ms after the jump, %zu of 5 "
      "recipients once (lost %zu, twice 0); %lld ms in all\n",
      fired_ms, gw.accepted(), 5 - std::min<std::size_t>(5, gw.accepted()), ms_since(test_start));
}

// =============================================================================================
// 5. kill -9 at random moments under load

// What a server's log says it recovered at its start ("recovered N message(s) accepted before the last stop").
std::string recovered_line(const std::string& log) {
  const auto at = log.find("recovered ");
  if (at == std::string::npos) return "nothing to recover at its start";
  return log.substr(at, log.find('\n', at) - at);
}

std::uint32_t fault_seed() {
  if (const char* s = std::getenv("VILLAGEBOT_FAULT_SEED"))
    return static_cast<std::uint32_t>(std::strtoul(s, nullptr, 10));
  return std::random_device{}();
}

TEST(Faults, KillDashNineAtRandomMomentsUnderLoadLosesNothingAndProcessesNothingTwice) {
  constexpr int kRounds = 3;
  constexpr int kReaders = 4;  // webhook threads asking 积分 and friends; two more propose 加分 by chat
  const auto test_start = SteadyClock::now();
  const std::uint32_t seed = fault_seed();
  std::printf("[ seed     ] VILLAGEBOT_FAULT_SEED=%u repeats this run's kill moments\n", seed);
  std::mt19937 rng(seed);
  ProcessVillage v({"points"});
  const std::string cadre = create_token(v.config, "faults-cadre", "cadre", "13800000002");
  const std::string evaluator = create_token(v.config, "faults-evaluator", "evaluator", "13800000003");

  struct Said {
    const char* sender;
    const char* text;
  };
  static constexpr Said kSaid[] = {{"13800000001", "积分"}, {"13800000003", "积分明细"}, {"13800000004", "积分排行"},
                                   {"13800000009", "帮助"}, {"13800000001", "积分超市"}, {"13900000123", "积分"}};

  std::mutex mutex;
  std::map<std::string, std::string> accepted;  // message id → the body sent (answered 200)
  std::set<std::string> chat_proposals;         // 加分 message ids sent (whatever the answer)
  std::set<std::string> chat_proposals_ok;      // … answered 200
  std::set<std::string> api_proposals;          // ids answered 201 by POST proposals
  std::set<std::string> api_entries;            // entry ids answered 200 by a decision
  int killed_requests = 0;
  int unexpected = 0;  // answers other than 200 (a connection cut by the kill is status 0)

  for (int round = 0; round < kRounds; ++round) {
    Serve server(v.config);
    const int port = server.port();
    std::atomic<bool> stop{false};
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    auto remember = [&](const std::string& id, const std::string& body, const Reply& r) {
      std::lock_guard lock(mutex);
      if (r.status == 200) accepted[id] = body;
      if (r.status == 0) ++killed_requests;
      if (r.status != 200 && r.status != 0 && ++unexpected <= 5)
        ADD_FAILURE() << id << " answered " << r.status << ": " << r.body;
    };
    for (int t = 0; t < kReaders; ++t) {
      threads.emplace_back([&, t] {
        http::BeastHttpClient client;
        for (int i = 0; !stop; ++i) {
          const std::string id = "kill-" + std::to_string(round) + "-" + std::to_string(t) + "-" + std::to_string(i);
          const auto& said = kSaid[static_cast<std::size_t>(t + i) % std::size(kSaid)];
          const std::string body = webhook_body(id, said.sender, said.text);
          const auto r = call(client, port, "POST", "/hooks/generic", body, {}, 15s);
          if (r.status == 200) ++ok;
          remember(id, body, r);
          if (r.status != 200) std::this_thread::sleep_for(5ms);
        }
      });
    }
    // A cadre and an evaluator propose by chat: each 加分 must make exactly one proposal, however the
    // kill falls.
    for (const char* proposer : {"13800000002", "13800000003"}) {
      threads.emplace_back([&, proposer] {
        http::BeastHttpClient client;
        for (int i = 0; !stop; ++i) {
          const std::string id = "kill-" + std::to_string(round) + "-chat-" + proposer + "-" + std::to_string(i);
          const std::string body = webhook_body(id, proposer, "加分 H001 1 打扫卫生-" + id);
          {
            std::lock_guard lock(mutex);
            chat_proposals.insert(id);
          }
          const auto r = call(client, port, "POST", "/hooks/generic", body, {}, 15s);
          remember(id, body, r);
          if (r.status == 200) {
            std::lock_guard lock(mutex);
            chat_proposals_ok.insert(id);
          }
          if (r.status != 200) std::this_thread::sleep_for(5ms);
        }
      });
    }
    // Ledger writes through the API: a proposal (201), then an evaluator's approval (200, the entry).
    threads.emplace_back([&] {
      http::BeastHttpClient client;
      for (int i = 0; !stop; ++i) {
        const std::string key = "kill-" + std::to_string(round) + "-api-" + std::to_string(i);
        const auto p = call(client, port, "POST", "/api/v1/points/proposals",
                            json{{"household", "H003"}, {"points", 1}, {"reason", "护林轮值 " + key}}.dump(),
                            {{"Authorization", "Bearer " + cadre}, {"Idempotency-Key", key}}, 15s);
        if (p.status != 201) {
          std::this_thread::sleep_for(5ms);
          continue;
        }
        const auto proposal = p.parsed()["id"].get<std::int64_t>();
        {
          std::lock_guard lock(mutex);
          api_proposals.insert(std::to_string(proposal));
        }
        const auto d = call(client, port, "POST", "/api/v1/points/proposals/" + std::to_string(proposal) + "/decision",
                            json{{"approve", true}}.dump(), bearer(evaluator), 15s);
        if (d.status == 200) {
          const auto entry = d.parsed()["entry_id"];
          std::lock_guard lock(mutex);
          if (entry.is_number_integer()) api_entries.insert(std::to_string(entry.get<std::int64_t>()));
        }
      }
    });

    // The moment counts from when the load flows (the first 20 answers): a busy machine starts slowly.
    const int kill_after_ms = std::uniform_int_distribution<int>(300, 3000)(rng);
    const auto started = SteadyClock::now();
    while (ok < 20 && ms_since(started) < 60000) {
      server.alive();
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_GE(ok.load(), 20) << "the server answered " << ok << " messages in a minute";
    const auto load_start = SteadyClock::now();
    while (ms_since(load_start) < kill_after_ms) {
      EXPECT_TRUE(server.alive()) << "the server died under load";
      std::this_thread::sleep_for(20ms);
    }
    const auto killed = server.stop(SIGKILL);
    EXPECT_EQ(killed.signal, SIGKILL) << killed.exit_code << killed.err;
    stop = true;
    for (auto& t : threads) t.join();
    std::printf(
        "[ round %d  ] kill -9 %d ms after the load flowed: %d webhook messages answered 200 in this round; %s\n",
        round, kill_after_ms, ok.load(), recovered_line(killed.err).c_str());
  }

  // Restarted once more: whatever was accepted but not answered is handled now.
  Serve server(v.config);
  const int port = server.port();
  const bool drained = eventually(
      [&] {
        server.alive();
        return Sql(v.db).scalar("SELECT COUNT(*) FROM core_messages WHERE direction = 'in' AND status = 'accepted'") ==
               0;
      },
      60s);
  EXPECT_TRUE(drained) << "messages accepted before the kills are still unprocessed a minute after the restart";

  // Every answered message, sent again, is a duplicate (answered from the log, not processed again).
  std::vector<std::pair<std::string, std::string>> again(accepted.begin(), accepted.end());
  std::atomic<std::size_t> next{0};
  std::atomic<int> not_duplicate{0};
  std::atomic<int> not_200{0};
  std::vector<std::thread> resenders;
  const auto resend_start = SteadyClock::now();
  for (int t = 0; t < 4; ++t) {
    resenders.emplace_back([&] {
      http::BeastHttpClient client;
      for (std::size_t i = next++; i < again.size(); i = next++) {
        const auto r = call(client, port, "POST", "/hooks/generic", again[i].second, {}, 15s);
        if (r.status != 200) {
          if (++not_200 <= 5) ADD_FAILURE() << again[i].first << " sent again: " << r.status << r.body << r.error;
        } else if (!is_duplicate(r)) {
          if (++not_duplicate <= 5) ADD_FAILURE() << again[i].first << " sent again was not a duplicate: " << r.body;
        }
      }
    });
  }
  for (auto& t : resenders) t.join();
  const long long resend_ms = ms_since(resend_start);
  EXPECT_EQ(not_duplicate.load(), 0);
  EXPECT_EQ(not_200.load(), 0);
  const auto log = server.log();
  const auto stopped = server.stop(SIGTERM);
  EXPECT_EQ(stopped.exit_code, 0);

  // NOTHING ACCEPTED IS LOST.
  std::set<std::string> accepted_ids;
  for (const auto& [id, body] : accepted) accepted_ids.insert(id);
  const auto checked = expect_stored_exactly_once(v.db, accepted_ids);
  Sql sql(v.db);
  EXPECT_EQ(sql.scalar("SELECT COUNT(*) FROM core_messages WHERE direction = 'in' AND status = 'accepted'"), 0);
  EXPECT_EQ(sql.texts("PRAGMA integrity_check"), std::vector<std::string>{"ok"});

  // Each 加分 stored made exactly one proposal: none lost, none made twice by the recovery.
  const auto stored = stored_ids(v.db);
  int chat_twice = 0;
  int chat_missing = 0;
  for (const auto& id : chat_proposals) {
    const auto n = sql.scalar("SELECT COUNT(*) FROM points_proposals WHERE reason = ?", {"打扫卫生-" + id});
    const bool was_stored = stored.contains(id);
    if (n > 1 && ++chat_twice <= 5)
      ADD_FAILURE() << id << " made " << n << " proposals (answered 200: " << chat_proposals_ok.contains(id) << ")";
    if (was_stored && n == 0 && ++chat_missing <= 5) ADD_FAILURE() << id << " was stored but made no proposal";
    if (!was_stored && n > 0) ADD_FAILURE() << id << " was never stored but made a proposal";
  }
  EXPECT_EQ(chat_twice, 0) << "a chat command processed twice (once answered, once again by the recovery)";
  EXPECT_EQ(chat_missing, 0);

  // Every ledger write answered 201/200 survived, and the hash chain is intact.
  const auto proposals = sql.texts("SELECT id FROM points_proposals");
  const std::set<std::string> proposal_ids(proposals.begin(), proposals.end());
  const auto entries = sql.texts("SELECT id FROM points_entries");
  const std::set<std::string> entry_ids(entries.begin(), entries.end());
  std::size_t lost_proposals = 0;
  std::size_t lost_entries = 0;
  for (const auto& id : api_proposals) lost_proposals += proposal_ids.contains(id) ? 0 : 1;
  for (const auto& id : api_entries) lost_entries += entry_ids.contains(id) ? 0 : 1;
  EXPECT_EQ(lost_proposals, 0U);
  EXPECT_EQ(lost_entries, 0U);
  EXPECT_EQ(sql.scalar("SELECT COUNT(*) FROM points_proposals WHERE status = 'approved' AND entry_id IS NULL"), 0);
  const auto verify = run({VILLAGEBOT_EXE, "points", "verify", "--config", v.config.string()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_THAT(verify.out, HasSubstr("OK"));

  std::printf(
      "[ figures  ] kill -9 x%d under load (seed %u): %zu messages answered 200, lost %zu; %zu 加分 by chat "
      "(%d made two proposals); %zu proposals and %zu ledger entries by the API, lost %zu and %zu; %d requests cut "
      "by the kills; re-sent all %zu as duplicates in %lld ms; ledger: %s; %lld ms in all\n",
      kRounds, seed, accepted.size(), accepted.size() - checked, chat_proposals.size(), chat_twice,
      api_proposals.size(), api_entries.size(), lost_proposals, lost_entries, killed_requests, again.size(), resend_ms,
      verify.exit_code == 0 ? "verified" : "BROKEN", ms_since(test_start));
  std::printf("[ figures  ] the last restart: %s\n", recovered_line(log).c_str());
}

}  // namespace
}  // namespace villagebot::testkit
