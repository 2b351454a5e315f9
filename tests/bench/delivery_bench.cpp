// Delivery figures (issue 4): enqueue a broadcast to 100,000 persons, drain it to a mock
// gateway without a rate limit, and the memory of 100,000 queued messages. Prints
// figures with their targets, decides nothing.
//
//   vb_delivery_bench [--rows N] [--concurrency C] [--workers W] [--sync full|normal] [--keep]
//                     [--plugin-dir DIR]
//   vb_delivery_bench --write-csv FILE [--rows N]   the same register as CSV (for run_delivery.sh)
//   vb_delivery_bench --gateway [--port P]         a mock gateway until SIGINT/SIGTERM (run_delivery.sh)
//
// The default run starts a real in-process Runtime (the production storage: WAL,
// synchronous=FULL; the real generic-webhook module) over a register of N persons
// (households of three, phones 13900000000 + i) with the adapter's reply_url at a
// MockGateway in this process, then:
//   (a) Runtime::messenger().broadcast() to everyone, personal_all, timed (audience,
//       planning, one transaction with N outbox rows and N recipient rows; run_delivery.sh
//       times the same through POST /api/v1/broadcasts against the real server);
//   (c) VmRSS of this process with the N messages queued: the gateway holds every request
//       unanswered meanwhile, so only `concurrency` messages are in flight and nothing drains;
//   (b) the gateway is crashed and restarted (the held sends fail and are retried after
//       their back-off; sends refused while it is down are held for gateway_retry_ms, 1 s here)
//       and answers at once from then on: messages/s from the first to the
//       last message the gateway accepted, and until every outbox row is `sent`.
// then (e) an emergency behind 50,000 queued notices on two adapters (emergency_behind), and
// the HTTP client's own ceiling for scale.
// The gateway and the load share this process and the machine's cores with the server.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "directory/people_import.hpp"
#include "http/http_client.hpp"
#include "mock_gateway.hpp"
#include "runtime/runtime.hpp"
#include "runtime/tokens.hpp"
#include "support/logging.hpp"
#include "testkit.hpp"
#include "villagebot/messenger.hpp"
#include "villagebot/storage.hpp"

namespace {

using namespace villagebot;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

constexpr const char* kGroups[10] = {"一组", "二组", "三组", "四组", "五组", "六组", "七组", "八组", "九组", "十组"};
constexpr const char* kSurnames[20] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周",
                                       "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "罗"};
constexpr const char* kGiven[24] = {"建国", "秀英", "伟", "芳", "敏", "静", "丽",   "强", "磊", "军", "洋",   "勇",
                                    "艳",   "杰",   "娟", "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "思远"};

// Households of three in ten 村民小组; phones 13900000000 + i (a loadgen --sender-range).
std::string register_csv(int rows) {
  std::string csv;
  csv.reserve(static_cast<std::size_t>(rows) * 64);
  csv += "户号,户主,姓名,手机,村民小组,角色\n";
  for (int i = 0; i < rows; ++i) {
    const int h = i / 3;
    char code[16];
    std::snprintf(code, sizeof code, "H%06d", h);
    const std::string head = std::string(kSurnames[h % 20]) + kGiven[h % 24];
    const std::string name = i % 3 == 0 ? head : std::string(kSurnames[h % 20]) + kGiven[(h + i % 3 * 7) % 24];
    csv.append(code).append(",").append(head).append(",").append(name).append(",");
    csv.append(std::to_string(13900000000LL + i)).append(",").append(kGroups[h % 10]).append(",村民\n");
  }
  return csv;
}

// A field of /proc/self/status in kB (VmRSS, VmHWM).
long proc_status_kb(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::atol(line.c_str() + key.size() + 1);
  return -1;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string verdict(bool met) {
  return met ? "met" : "MISSED";
}

struct Options {
  int rows = 100000;
  int concurrency = 32;
  int workers = 2;
  std::string sync = "full";
  bool keep = false;
  std::string write_csv;
  bool gateway = false;
  int port = 0;
  std::string plugin_dir;  // the modules (generic webhook); default: <build>/plugins beside this program
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--rows")
      o.rows = std::stoi(value());
    else if (a == "--concurrency")
      o.concurrency = std::stoi(value());
    else if (a == "--workers")
      o.workers = std::stoi(value());
    else if (a == "--sync")
      o.sync = value();
    else if (a == "--keep")
      o.keep = true;
    else if (a == "--write-csv")
      o.write_csv = value();
    else if (a == "--gateway")
      o.gateway = true;
    else if (a == "--port")
      o.port = std::stoi(value());
    else if (a == "--plugin-dir")
      o.plugin_dir = value();
    else
      throw std::invalid_argument("unknown option " + a);
  }
  if (o.rows < 1 || o.concurrency < 1 || o.workers < 1) throw std::invalid_argument("numbers must be positive");
  if (o.sync != "full" && o.sync != "normal") throw std::invalid_argument("--sync is full or normal");
  if (o.plugin_dir.empty()) {
    // CMake puts this program in <build>/tests/bench and the modules in <build>/plugins.
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    o.plugin_dir = (exe.parent_path().parent_path().parent_path() / "plugins").string();
  }
  return o;
}

// First to last accepted message, per second.
double first_to_last_rate(const std::vector<testkit::GatewayMessage>& messages) {
  if (messages.size() < 2) return 0;
  auto [lo, hi] = std::minmax_element(messages.begin(), messages.end(),
                                      [](const auto& a, const auto& b) { return a.received < b.received; });
  const double s = std::chrono::duration<double>(hi->received - lo->received).count();
  return s > 0 ? static_cast<double>(messages.size() - 1) / s : 0;
}

// --gateway: a mock gateway for run_delivery.sh, until SIGINT or SIGTERM; then its figures.
int run_gateway(const Options& o) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the gateway's threads start
  testkit::MockGateway gw(
      testkit::MockGatewayOptions{.threads = 2, .seed = 1, .port = static_cast<std::uint16_t>(o.port), .faults = {}});
  std::cout << "gateway listening on " << gw.url("/send") << std::endl;
  int sig = 0;
  sigwait(&set, &sig);
  const auto messages = gw.messages();
  const auto c = gw.counts();
  std::cout << "accepted=" << c.accepted << "\nrequests=" << c.requests << "\nrecipients=" << gw.recipients().size()
            << "\nfirst_to_last_per_s=" << first_to_last_rate(messages) << std::endl;
  return 0;
}

std::string config_toml(const fs::path& dir, const Options& o, const std::string& reply_url) {
  std::ostringstream t;
  t << "[logging]\nlevel = \"error\"\n\n"
    << "[server]\nlisten = \"127.0.0.1:0\"\nthreads = 2\nshutdown_grace_ms = 3000\n\n"
    << "[storage]\npath = \"" << (dir / "villagebot.db").string() << "\"\nsynchronous = \"" << o.sync << "\"\n\n"
    << "[pipeline]\nworkers = " << o.workers << "\nrate_limit_messages = 0\n\n"
    << "[plugins]\ndir = \"" << o.plugin_dir
    << "\"\nenabled = []\n\n"
    // (b) restarts the gateway: sends refused meanwhile are held for gateway_retry_ms (30 s by
    // default), which would measure the pause rather than the drain.
    << "[delivery]\ngateway_retry_ms = 1000\n\n"
    << "[[adapters]]\nid = \"generic\"\ntype = \"generic-webhook\"\nreply_url = \"" << reply_url
    << "\"\nsend_timeout_ms = 600000\nrate_per_minute = 0\nconcurrency = " << o.concurrency << "\n";
  return t.str();
}

std::int64_t count(runtime::Runtime& rt, const std::string& sql) {
  return rt.storage().read([&](Session& s) { return s.query(sql).at(0).integer(0); });
}

// What the drain is measured against: the same HTTP client the generic webhook uses
// (http::BeastHttpClient, one exchange per call), from `concurrency` threads straight to
// the mock gateway, with no villagebot in between.
void client_ceiling(const Options& o) {
  testkit::MockGateway gw(testkit::MockGatewayOptions{.threads = 2, .seed = 1, .port = 0, .faults = {}});
  const int total = std::min(o.rows, 20000);
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(o.concurrency));
  const double cpu0 = cpu_seconds();
  const auto t = Clock::now();
  for (int i = 0; i < o.concurrency; ++i)
    threads.emplace_back([&] {
      http::BeastHttpClient client;
      for (int n; (n = next++) < total;) {
        ClientRequest req;
        req.url = gw.url("/send");
        req.body = json{{"message_id", "c-" + std::to_string(n)},
                        {"recipient", std::to_string(13900000000LL + n)},
                        {"text", "ceiling"}}
                       .dump();
        req.headers = {{"Content-Type", "application/json"}, {"Idempotency-Key", "c-" + std::to_string(n)}};
        req.timeout = std::chrono::seconds(10);
        (void)client.request(req);
      }
    });
  for (auto& th : threads) th.join();
  const double s = ms_since(t) / 1000;
  std::cout << "    for scale: the HTTP client alone (BeastHttpClient, " << o.concurrency
            << " threads, straight to the mock gateway, no villagebot): " << static_cast<long>(total / s)
            << " requests/s, " << (cpu_seconds() - cpu0) * 1e6 / total << " us CPU per request (client + gateway), "
            << gw.accepted() << " of " << total << " accepted\n";
}

// (e) An emergency enqueued behind 50,000 queued notices, on each of two adapters: a chat
// adapter and an SMS gateway (two generic-webhook instances, each with its own mock
// gateway answering after 20 ms, so that the notices drain slowly and stay queued).
// Three emergencies, each Messenger::send to both adapters; the figure is the time
// from the send to the gateway's receipt; the worst is printed against the target.
void emergency_behind(const Options& o) {
  const int per_adapter = 25000;
  const fs::path dir = testkit::make_temp_dir("vb-emergency-bench");
  testkit::MockGateway chat_gw(testkit::MockGatewayOptions{.threads = 1, .seed = 1, .port = 0, .faults = {}});
  testkit::MockGateway sms_gw(testkit::MockGatewayOptions{.threads = 1, .seed = 2, .port = 0, .faults = {}});
  chat_gw.set_latency(std::chrono::milliseconds(20));
  sms_gw.set_latency(std::chrono::milliseconds(20));
  {
    std::ostringstream t;
    t << "[logging]\nlevel = \"error\"\n\n"
      << "[server]\nlisten = \"127.0.0.1:0\"\nthreads = 2\n\n"
      << "[storage]\npath = \"" << (dir / "villagebot.db").string() << "\"\n\n"
      << "[pipeline]\nworkers = " << o.workers << "\n\n"
      << "[plugins]\ndir = \"" << o.plugin_dir << "\"\nenabled = []\n\n";
    for (const auto& [id, gw, sms] : {std::tuple{"chat", &chat_gw, false}, std::tuple{"sms", &sms_gw, true}})
      t << "[[adapters]]\nid = \"" << id << "\"\ntype = \"generic-webhook\"\nreply_url = \"" << gw->url("/send")
        << "\"\nsms = " << (sms ? "true" : "false") << "\nconcurrency = " << o.concurrency << "\n\n";
    std::ofstream(dir / "villagebot.toml") << t.str();
  }
  auto cfg = config::load((dir / "villagebot.toml").string());
  if (!cfg.ok()) throw std::runtime_error("config: " + cfg.errors->front());
  {
    auto storage = runtime::open_storage(cfg);
    if (!directory::import_people(*storage, register_csv(per_adapter), {}).applied)
      throw std::runtime_error("the register did not import");
  }
  runtime::Runtime rt(std::move(cfg));
  rt.start();
  Broadcast chat;
  chat.text = "【通知】本月垃圾清运时间调整，请各户留意。";
  chat.audience.everyone = true;
  chat.policy = ChannelPolicy::personal_all;
  chat.created_by = "bench";
  Broadcast sms = chat;
  sms.policy = ChannelPolicy::sms_all;
  const auto chat_id = rt.messenger().broadcast(chat);
  const auto sms_id = rt.messenger().broadcast(sms);
  chat_gw.wait_for_accepted(100, std::chrono::seconds(30));
  sms_gw.wait_for_accepted(100, std::chrono::seconds(30));
  double worst = 0;
  std::ostringstream runs;
  for (int k = 0; k < 3; ++k) {
    const auto queued = count(rt, "SELECT COUNT(*) FROM core_outbox WHERE status = 'queued'");
    const std::string to = std::to_string(13800000000LL + k);  // not in the register: only the alert reaches it
    const auto t0 = Clock::now();
    for (const char* adapter : {"chat", "sms"}) {
      OutboundMessage m;
      m.adapter_id = adapter;
      m.address = to;
      m.text = "紧急：山洪预警，请立即转移到高处！回复 1 到岗，2 无法到岗";
      m.priority = Priority::emergency;
      m.essential = true;
      rt.messenger().send(m);
    }
    runs << (k > 0 ? "; " : "") << "behind " << queued << " queued:";
    for (auto* gw : {&chat_gw, &sms_gw}) {
      const auto deadline = Clock::now() + std::chrono::seconds(10);
      while (gw->accepted_for(to) == 0 && Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      double took = 10000;
      for (const auto& m : gw->messages())
        if (m.recipient == to) took = std::chrono::duration<double, std::milli>(m.received - t0).count();
      worst = std::max(worst, took);
      runs << " " << (gw == &chat_gw ? "chat " : "sms ") << static_cast<long>(took + 0.5) << " ms";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  std::cout << "(e) an emergency enqueued behind " << 2 * per_adapter
            << " queued notices (two adapters, a gateway answering in 20 ms, concurrency " << o.concurrency
            << "), enqueue to the gateway's receipt, worst of 3 on each adapter: " << static_cast<long>(worst + 0.5)
            << " ms   [target <= 1000 ms: " << verdict(worst <= 1000) << "]\n    " << runs.str() << "\n";
  rt.messenger().cancel_broadcast(chat_id);
  rt.messenger().cancel_broadcast(sms_id);
  rt.stop();
  std::error_code ec;
  if (!o.keep) fs::remove_all(dir, ec);
}

int run_figures(const Options& o) {
  support::setup_logging("error");  // the drain's first sends fail on purpose (see (b))
  const fs::path dir = testkit::make_temp_dir("vb-delivery-bench");
  std::cout << "delivery bench: " << o.rows << " persons, concurrency " << o.concurrency << ", pipeline.workers "
            << o.workers << ", synchronous=" << o.sync << ", in " << dir.string() << "\n";
  const auto hw = std::thread::hardware_concurrency();
  std::cout << "machine: " << hw << " cores (server, gateway and client share them)\n\n";

  int rc = 0;
  {
    // Holds every request unanswered until the drain starts: nothing is sent meanwhile.
    testkit::MockGateway gw(testkit::MockGatewayOptions{.threads = 2, .seed = 1, .port = 0, .faults = {}});
    gw.set_timeout_rate(1.0);
    const std::string reply_url = gw.url("/send");
    std::ofstream(dir / "villagebot.toml") << config_toml(dir, o, reply_url);

    auto cfg = config::load((dir / "villagebot.toml").string());
    if (!cfg.ok()) throw std::runtime_error("config: " + cfg.errors->front());
    {
      const std::string csv = register_csv(o.rows);
      auto storage = runtime::open_storage(cfg);
      const auto t = Clock::now();
      const auto report = directory::import_people(*storage, csv, {});
      if (!report.applied) throw std::runtime_error("the register did not import");
      std::cout << "setup: import of " << o.rows << " persons " << ms_since(t) << " ms\n";
    }
    runtime::Runtime rt(std::move(cfg));
    rt.start();
    const std::string token = rt.tokens().create("bench", "admin");
    http::BeastHttpClient client;
    auto api = [&](const std::string& method, const std::string& path, const std::string& body = {}) {
      ClientRequest req;
      req.method = method;
      req.url = "http://127.0.0.1:" + std::to_string(rt.port()) + path;
      req.body = body;
      req.headers = {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}};
      req.timeout = std::chrono::seconds(300);
      return client.request(req);
    };
    const long rss_idle = proc_status_kb("VmRSS");
    std::cout << "setup: VmRSS with the runtime started, nothing queued: " << rss_idle / 1024 << " MB\n\n";

    // (a) Enqueue. The peak (VmHWM) is reset first, so that it shows what the broadcast took.
    std::ofstream("/proc/self/clear_refs") << "5";
    Broadcast b;
    b.text = "【通知】明天上午九点在村委会召开村民大会，请每户派一名代表参加。回复“收到”确认。";
    b.audience.everyone = true;
    b.policy = ChannelPolicy::personal_all;
    b.created_by = "bench";
    DeliveryPlan plan;
    const auto t_post = Clock::now();
    const std::int64_t id = rt.messenger().broadcast(b, &plan);
    const double enqueue_ms = ms_since(t_post);
    std::cout << "(a) enqueue " << plan.personal_chats
              << " recipients (Messenger::broadcast: resolve + plan + one transaction): " << enqueue_ms
              << " ms   [target <= 2000 ms: " << verdict(enqueue_ms <= 2000) << "]\n";

    // (c) Memory with everything queued: the held sends are all that is in flight.
    gw.wait_for_requests(static_cast<std::size_t>(o.concurrency), std::chrono::seconds(30));
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const auto queued = count(rt, "SELECT COUNT(*) FROM core_outbox WHERE status = 'queued'");
    const long rss_queued = proc_status_kb("VmRSS");
    const long hwm = proc_status_kb("VmHWM");
    std::cout << "(c) VmRSS with " << queued << " queued (+" << gw.in_flight()
              << " held at the gateway): " << rss_queued / 1024 << " MB (" << (rss_queued - rss_idle) / 1024
              << " MB more than before the broadcast; peak VmHWM since the broadcast began " << hwm / 1024
              << " MB)   [target <= 150 MB: " << verdict(rss_queued <= 150L * 1024) << "]\n";

    // (b) Drain: the held sends fail (retried after their back-off), the rest go at once.
    gw.set_timeout_rate(0);
    gw.crash();
    gw.reset();
    gw.restart();
    const double cpu0 = cpu_seconds();
    const auto t_drain = Clock::now();
    const auto n = static_cast<std::size_t>(o.rows);
    if (!gw.wait_for_accepted(n, std::chrono::seconds(900)))
      std::cout << "(b) only " << gw.accepted() << " of " << n << " arrived within 900 s\n";
    const double gateway_ms = ms_since(t_drain);
    std::int64_t sent = 0;
    for (int i = 0; i < 6000; ++i) {
      sent = count(
          rt, "SELECT COUNT(*) FROM core_outbox WHERE broadcast_id = " + std::to_string(id) + " AND status = 'sent'");
      if (sent == o.rows) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const double all_sent_ms = ms_since(t_drain);
    const double cpu = cpu_seconds() - cpu0;
    const auto messages = gw.messages();
    const double rate = first_to_last_rate(messages);
    const auto t_status = Clock::now();
    auto st = json::parse(api("GET", "/api/v1/broadcasts/" + std::to_string(id)).body, nullptr, false);
    const double status_ms = ms_since(t_status);
    if (!st.is_object()) st = json::object();
    const auto c = gw.counts();
    std::cout << "(b) drain " << messages.size() << " messages to the mock gateway (no rate limit, concurrency "
              << o.concurrency << "): " << static_cast<long>(rate) << " messages/s first to last accepted   [target >= "
              << "5000/s: " << verdict(rate >= 5000) << "]\n"
              << "    all at the gateway " << gateway_ms << " ms after the drain began ("
              << static_cast<long>(static_cast<double>(n) * 1000 / gateway_ms) << "/s), all " << sent << " rows sent "
              << all_sent_ms << " ms (" << static_cast<long>(static_cast<double>(sent) * 1000 / all_sent_ms) << "/s); "
              << c.requests << " requests, " << c.connections << " connections, max " << gw.max_in_flight()
              << " in flight at the gateway; CPU of this process " << cpu * 1e6 / static_cast<double>(n)
              << " us per message (server + gateway)\n"
              << "    broadcast status: persons " << st.value("persons", 0) << ", reached " << st.value("reached", 0)
              << ", messages " << st.value("messages", json::object()).dump()
              << " (GET /api/v1/broadcasts/{id}: " << status_ms << " ms)\n";
    std::cout << "    peak VmHWM of the process: " << proc_status_kb("VmHWM") / 1024
              << " MB (includes the gateway's record of every message)\n";
    if (sent != o.rows) rc = 1;
    rt.stop();
  }
  emergency_behind(o);
  client_ceiling(o);
  std::error_code ec;
  if (!o.keep) fs::remove_all(dir, ec);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    if (!o.write_csv.empty()) {
      std::ofstream(o.write_csv) << register_csv(o.rows);
      return 0;
    }
    if (o.gateway) return run_gateway(o);
    return run_figures(o);
  } catch (const std::exception& e) {
    std::cerr << "vb_delivery_bench: " << e.what() << "\n";
    return 2;
  }
}
