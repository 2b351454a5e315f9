// Issue 7's figure: from the trigger (POST /api/v1/emergency/alerts) to every one of
// 1,000 team members' messages handed to the adapters, no rate limit. A real runtime
// with the emergency plugin, an SMS adapter and a chat adapter (generic webhooks) to a
// MockGateway in this process; the figure is the time from sending the POST to the
// gateway's receipt of the last SMS (stricter than "handed to the adapter"), the best
// and worst of several alerts, each to the whole team.
//
// Usage: vb_emergency_bench [--members 1000] [--runs 5] [--concurrency 32] [--plugin-dir DIR]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
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

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace villagebot;

struct Options {
  int members = 1000;
  int runs = 5;
  int concurrency = 32;
  std::string plugin_dir = VILLAGEBOT_MODULE_DIR;
};

std::string team_csv(int members) {
  std::string csv = "户号,户主,姓名,手机,村民小组,角色\nC0,指挥长,李指挥,13700000000,一组,指挥长\n";
  for (int i = 1; i <= members; ++i) {
    char line[128];
    std::snprintf(line, sizeof line, "T%05d,队员%d,队员%d,%lld,%s,应急队员\n", i, i, i, 13700000000LL + i,
                  i % 2 == 0 ? "一组" : "二组");
    csv += line;
  }
  return csv;
}

int run(const Options& o) {
  support::setup_logging("error");
  const fs::path dir = testkit::make_temp_dir("vb-emergency-bench");
  testkit::MockGateway gw(testkit::MockGatewayOptions{.threads = 2, .seed = 1, .port = 0, .faults = {}});
  {
    std::ostringstream t;
    t << "[logging]\nlevel = \"error\"\n\n[server]\nlisten = \"127.0.0.1:0\"\nthreads = 2\n\n"
      << "[storage]\npath = \"" << (dir / "villagebot.db").string() << "\"\n\n"
      << "[plugins]\ndir = \"" << o.plugin_dir << "\"\nenabled = [\"emergency\"]\n\n"
      << "[plugins.emergency]\nresponses_needed = " << o.members << "\n\n";
    for (const auto& [id, sms] : {std::pair{"chat", false}, std::pair{"sms", true}})
      t << "[[adapters]]\nid = \"" << id << "\"\ntype = \"generic-webhook\"\nreply_url = \"" << gw.url("/send")
        << "\"\nsms = " << (sms ? "true" : "false") << "\nrate_per_minute = 0\nconcurrency = " << o.concurrency
        << "\n\n";
    std::ofstream(dir / "villagebot.toml") << t.str();
  }
  auto cfg = config::load((dir / "villagebot.toml").string());
  if (!cfg.ok()) throw std::runtime_error("config: " + cfg.errors->front());
  {
    auto storage = runtime::open_storage(cfg);
    if (!directory::import_people(*storage, team_csv(o.members), {}).applied)
      throw std::runtime_error("the team did not import");
  }
  runtime::Runtime rt(std::move(cfg));
  rt.start();
  const std::string token = rt.tokens().create("bench", "admin");
  http::BeastHttpClient client;
  std::vector<double> took;
  std::size_t before = 0;
  for (int k = 0; k < o.runs; ++k) {
    ClientRequest req;
    req.method = "POST";
    req.url = "http://127.0.0.1:" + std::to_string(rt.port()) + "/api/v1/emergency/alerts";
    req.headers = {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}};
    req.body = nlohmann::json{
        {"kind", "防汛"},
        {"text", "河水上涨，立即到村委会集合（第" + std::to_string(k + 1) + "次）"},
        {"drill",
         true}}.dump();
    const auto t0 = Clock::now();
    const auto res = client.request(req);
    const auto t_post = Clock::now();
    if (res.status != 201)
      throw std::runtime_error("the alert was refused: " + std::to_string(res.status) + " " + res.body);
    const std::size_t want = before + static_cast<std::size_t>(o.members);
    if (!gw.wait_for_accepted(want, std::chrono::seconds(60))) throw std::runtime_error("the SMS did not all arrive");
    Clock::time_point last{};
    for (const auto& m : gw.messages())
      if (m.received > t0) last = std::max(last, m.received);
    const double ms = std::chrono::duration<double, std::milli>(last - t0).count();
    took.push_back(ms);
    std::cout << "  alert " << (k + 1) << ": POST answered in "
              << static_cast<long>(std::chrono::duration<double, std::milli>(t_post - t0).count() + 0.5)
              << " ms (planned and durable), last of " << o.members << " SMS at the gateway after "
              << static_cast<long>(ms + 0.5) << " ms\n";
    before = want;
    // Stand down, so that the next alert is the only active one.
    ClientRequest down = req;
    down.url = "http://127.0.0.1:" + std::to_string(rt.port()) + "/api/v1/emergency/alerts/" +
               std::to_string(nlohmann::json::parse(res.body)["alert"]["id"].get<std::int64_t>()) + "/stand-down";
    down.body.clear();
    if (client.request(down).status != 200) throw std::runtime_error("stand-down failed");
    if (!gw.wait_for_accepted(before + static_cast<std::size_t>(o.members), std::chrono::seconds(60)))
      throw std::runtime_error("the stand-down did not arrive");
    before += static_cast<std::size_t>(o.members);
  }
  std::sort(took.begin(), took.end());
  std::cout << "(f) emergency alert to " << o.members << " members, no rate limit, concurrency " << o.concurrency
            << ": trigger → every SMS at the gateway: best " << static_cast<long>(took.front() + 0.5) << " ms, median "
            << static_cast<long>(took[took.size() / 2] + 0.5) << " ms, worst " << static_cast<long>(took.back() + 0.5)
            << " ms   [target <= 1000 ms: " << (took.back() <= 1000 ? "met" : "MISSED") << "]\n";
  rt.stop();
  std::error_code ec;
  fs::remove_all(dir, ec);
  return took.back() <= 1000 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--members")
      o.members = std::stoi(next());
    else if (a == "--runs")
      o.runs = std::max(1, std::stoi(next()));
    else if (a == "--concurrency")
      o.concurrency = std::stoi(next());
    else if (a == "--plugin-dir")
      o.plugin_dir = next();
    else {
      std::cerr << "usage: vb_emergency_bench [--members 1000] [--runs 5] [--concurrency 32] [--plugin-dir DIR]\n";
      return 2;
    }
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::cerr << "vb_emergency_bench: " << e.what() << "\n";
    return 1;
  }
}
