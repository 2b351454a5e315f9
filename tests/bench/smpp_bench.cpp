// Issue 11's SMPP figure: 10,000 Chinese SMS (one part each, ≤ 70 characters with the signature)
// through the SMPP adapter of a real runtime (TestServer: SQLite outbox, delivery engine, the
// adapter module) to the test SMSC on 127.0.0.1. The SMSC runs in a child process forked before
// anything else starts, so getrusage(RUSAGE_SELF) of this process is the server's CPU alone and
// the SMSC's own CPU is read from the child (RUSAGE_SELF there).
//
// Usage: vb_smpp_bench [--messages 10000] [--window 10] [--concurrency 16] [--delay-ms 0]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "smsc.hpp"
#include "support/logging.hpp"
#include "testkit.hpp"
#include "villagebot/messenger.hpp"

namespace {

using namespace villagebot;
using Clock = std::chrono::steady_clock;

struct Options {
  int messages = 10000;
  int window = 10;
  int concurrency = 16;
  int delay_ms = 0;
};

double cpu_seconds(const rusage& r) {
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

// The child: an SMSC until the parent writes 'q', then "accepted max_outstanding cpu_seconds".
[[noreturn]] void smsc_child(int to_parent, int from_parent, int delay_ms) {
  {
    smsc::Smsc server;
    server.set_delay(std::chrono::milliseconds(delay_ms));
    const std::uint16_t port = server.port();
    if (::write(to_parent, &port, sizeof port) != static_cast<ssize_t>(sizeof port)) std::_Exit(2);
    char c = 0;
    while (::read(from_parent, &c, 1) == 1 && c != 'q') {
    }
    std::size_t accepted = 0;
    for (const auto& s : server.submits())
      if (s.answered_status == 0) ++accepted;
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    char line[128];
    const int n =
        std::snprintf(line, sizeof line, "%zu %d %.6f\n", accepted, server.max_outstanding(), cpu_seconds(ru));
    if (::write(to_parent, line, static_cast<std::size_t>(n)) != n) std::_Exit(2);
  }
  std::_Exit(0);
}

int run(const Options& o) {
  int up[2], down[2];
  if (::pipe(up) != 0 || ::pipe(down) != 0) return 1;
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(up[0]);
    ::close(down[1]);
    smsc_child(up[1], down[0], o.delay_ms);
  }
  ::close(up[1]);
  ::close(down[0]);
  std::uint16_t port = 0;
  if (::read(up[0], &port, sizeof port) != static_cast<ssize_t>(sizeof port)) return 1;

  support::setup_logging("error");
  ::setenv("VB_BENCH_SMPP_PASSWORD", "secret", 1);
  testkit::Options so;
  so.extra_toml = "[[adapters]]\nid = \"sms\"\ntype = \"smpp\"\nhost = \"127.0.0.1\"\nport = " + std::to_string(port) +
                  "\nsystem_id = \"village\"\npassword = \"${VB_BENCH_SMPP_PASSWORD}\"\nsignature = \"【幸福村】\"\n"
                  "source_addr = \"10690000\"\nnumber_format = \"national\"\nwindow = " +
                  std::to_string(o.window) + "\nconcurrency = " + std::to_string(o.concurrency) + "\n";
  testkit::TestServer server(so);
  if (!testkit::eventually([&] { return server.runtime().health()["adapters"]["sms"]["bound"] == true; })) {
    std::fprintf(stderr, "the adapter did not bind to the SMSC\n");
    return 1;
  }
  auto& messenger = server.runtime().messenger();
  const std::string text = "明天上午九点在村委会召开村民大会，请各户派一名代表准时参加。";  // 30 + 5 characters

  rusage before{};
  ::getrusage(RUSAGE_SELF, &before);
  const auto t0 = Clock::now();
  for (int i = 0; i < o.messages; ++i) {
    OutboundMessage m;
    m.adapter_id = "sms";
    m.address = std::to_string(13900000000LL + i);
    m.text = text;
    m.essential = true;
    messenger.send(m);
  }
  const auto t_enqueued = Clock::now();
  const std::string sent_sql = "SELECT COUNT(*) FROM core_outbox WHERE adapter_id = 'sms' AND status = 'sent'";
  const bool done = testkit::eventually([&] { return server.count(sent_sql) >= o.messages; }, std::chrono::minutes(10));
  const auto t1 = Clock::now();
  rusage after{};
  ::getrusage(RUSAGE_SELF, &after);
  if (!done)
    std::fprintf(stderr, "only %lld of %d were sent\n", static_cast<long long>(server.count(sent_sql)), o.messages);

  const auto health = server.runtime().health()["adapters"]["sms"];
  if (::write(down[1], "q", 1) != 1) return 1;
  char line[128] = {};
  std::size_t got = 0;
  for (ssize_t r = 0; (r = ::read(up[0], line + got, sizeof line - 1 - got)) > 0;) got += static_cast<std::size_t>(r);
  ::waitpid(child, nullptr, 0);
  std::size_t accepted = 0;
  int max_outstanding = 0;
  double smsc_cpu = 0;
  std::sscanf(line, "%zu %d %lf", &accepted, &max_outstanding, &smsc_cpu);

  const double total_s = std::chrono::duration<double>(t1 - t0).count();
  const double enqueue_s = std::chrono::duration<double>(t_enqueued - t0).count();
  const double server_cpu = cpu_seconds(after) - cpu_seconds(before);
  std::printf("SMPP bench: %d Chinese SMS (one UCS-2 part each), window %d, concurrency %d, SMSC delay %d ms\n",
              o.messages, o.window, o.concurrency, o.delay_ms);
  std::printf("| figure | value |\n|---|---|\n");
  std::printf("| enqueue (Messenger::send x %d) | %.2f s |\n", o.messages, enqueue_s);
  std::printf("| first enqueue -> last submit_sm_resp recorded 'sent' | %.2f s |\n", total_s);
  std::printf("| throughput | %.0f messages/s |\n", o.messages / total_s);
  std::printf("| drain left after the last enqueue | %.2f s |\n", total_s - enqueue_s);
  std::printf("| server CPU per message (villagebot process, SMSC excluded) | %.1f us |\n",
              server_cpu * 1e6 / o.messages);
  std::printf("| SMSC CPU per message (child process, whole run) | %.1f us |\n", smsc_cpu * 1e6 / o.messages);
  std::printf("| accepted by the SMSC | %zu |\n", accepted);
  std::printf("| max outstanding at the SMSC | %d (window %d) |\n", max_outstanding, o.window);
  std::printf("| adapter health | %s |\n", health.dump().c_str());
  return done ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (k == "--messages")
      o.messages = v;
    else if (k == "--window")
      o.window = v;
    else if (k == "--concurrency")
      o.concurrency = v;
    else if (k == "--delay-ms")
      o.delay_ms = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  return run(o);
}
