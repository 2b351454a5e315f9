// Points ledger figures (issue 5): append N entries (1,000,000 by default) to a real
// SQLite file, then verify the whole hash chain. Prints figures with their targets,
// decides nothing.
//
//   vb_points_bench [--entries N] [--households H] [--batch B] [--keep]
//
// Appends go through Ledger::append inside write_sync transactions of B entries (an
// import or a busy season); the one-at-a-time figure posts 1,000 entries with
// Ledger::post, each durable before the next (synchronous=FULL, the production default).
#include <chrono>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>

#include "points_service.hpp"
#include "storage/sqlite_storage.hpp"
#include "testkit.hpp"

namespace {

using namespace villagebot;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t entries = 1000000;
  std::int64_t households = 1000;
  std::int64_t batch = 10000;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return std::stoll(argv[++i]);
    };
    if (a == "--entries")
      entries = value();
    else if (a == "--households")
      households = value();
    else if (a == "--batch")
      batch = value();
    else if (a == "--keep")
      keep = true;
    else {
      std::cerr << "vb_points_bench: unknown option " << a << "\n";
      return 2;
    }
  }
  const auto dir = testkit::make_temp_dir("vb-points-bench");
  int rc = 0;
  {
    storage::SqliteStorage storage((dir / "villagebot.db").string(), storage::SqliteOptions{});
    storage.migrate("points", points::Ledger::migrations());
    points::Ledger ledger(storage);
    std::cout << "points bench: " << entries << " entries over " << households << " households, " << batch
              << " per transaction, synchronous=full, in " << dir.string() << "\n";

    const auto t_post = Clock::now();
    constexpr int kSingles = 1000;
    for (int i = 0; i < kSingles; ++i) {
      points::Posting p;
      p.household_id = 1 + i % households;
      p.points = 1 + i % 7;
      p.reason = "打扫文化广场";
      p.source = "bench";
      ledger.post(p);
    }
    const double post_s = seconds_since(t_post);
    std::cout << "one at a time (Ledger::post, durable each): " << kSingles << " entries in " << post_s << " s ("
              << static_cast<long>(kSingles / post_s) << " entries/s)\n";

    const auto t_append = Clock::now();
    const auto now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    for (std::int64_t done = kSingles; done < entries;) {
      const std::int64_t n = std::min(batch, entries - done);
      storage.write_sync([&](Session& s) {
        for (std::int64_t i = 0; i < n; ++i) {
          points::Posting p;
          const std::int64_t k = done + i;
          p.household_id = 1 + k % households;
          p.points = k % 10 == 9 ? -3 : 1 + k % 7;
          p.reason = k % 10 == 9 ? "乱堆柴草" : "参加护林岗轮值";
          p.rule_code = k % 10 == 9 ? "D02" : "A05";
          p.source = "bench";
          p.proposer = "村干部";
          p.approver = "评议员";
          p.idempotency_key = "bench-" + std::to_string(k);
          points::Ledger::append(s, p, now_ms + k);
        }
      });
      done += n;
    }
    const double append_s = seconds_since(t_append);
    std::cout << "append " << entries - kSingles << " entries: " << append_s << " s ("
              << static_cast<long>(static_cast<double>(entries - kSingles) / append_s) << " entries/s)\n";

    const auto v = ledger.verify();
    std::cout << "verify " << v.entries << " entries (hash chain + balances): " << v.seconds
              << " s   [target <= 3 s: " << (v.seconds <= 3.0 ? "met" : "MISSED") << "]  " << (v.ok ? "OK" : "FAILED")
              << "\n";
    if (!v.ok || v.entries != entries) {
      std::cout << "unexpected: " << v.problem << "\n";
      rc = 1;
    }
    std::cout << "database size: " << std::filesystem::file_size(dir / "villagebot.db") / (1024 * 1024) << " MB\n";
  }
  std::error_code ec;
  if (!keep) std::filesystem::remove_all(dir, ec);
  return rc;
}
