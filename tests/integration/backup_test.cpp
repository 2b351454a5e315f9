// `villagebot backup` and `villagebot restore` (issue 13) with the real binary: a backup taken
// while the server answers messages, a restore that gives an identical database, and the
// refusals (a running server, a damaged backup, a second server on one database).
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/http_client.hpp"
#include "process_support.hpp"
#include "storage/sqlite_storage.hpp"

namespace villagebot::testkit {
namespace {

using ::testing::HasSubstr;

int post_message(int port, const std::string& id) {
  http::BeastHttpClient client;
  ClientRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/hooks/generic";
  req.body = nlohmann::json{{"message_id", id}, {"sender", "13800000001"}, {"text", "回声 " + id}}.dump();
  req.timeout = std::chrono::seconds(20);
  return client.request(req).status;
}

// The whole database as SQL text (schema and every row), by the sqlite3 command line.
std::string dump(const std::filesystem::path& db) {
  const auto r = run({"sqlite3", db.string(), ".dump"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

std::int64_t count(const std::filesystem::path& db, const std::string& sql) {
  storage::SqliteStorage s(db.string());
  return s.read([&](Session& session) { return session.query(sql)[0].integer(0); });
}

TEST(Backup, ATakenUnderLoadThenRestoredDatabaseIsIdentical) {
  ProcessVillage v({"test_echo"});
  const auto during = v.dir / "during.db";
  const auto after = v.dir / "after.db";
  {
    Child server(v.serve_args());
    const int port = port_from_line(server.wait_for_line("listening on"));
    ASSERT_GT(port, 0);
    std::atomic<bool> stop{false};
    std::atomic<int> ok{0};
    std::thread load([&] {
      for (int i = 0; !stop; ++i)
        if (post_message(port, "load-" + std::to_string(i)) == 200) ++ok;
    });
    while (ok < 50) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    // Online: the server goes on answering while the copy is taken.
    const auto b = run({VILLAGEBOT_EXE, "backup", during.string(), "--config", v.config.string()});
    const int answered_before = ok;
    while (ok < answered_before + 20) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    stop = true;
    load.join();
    EXPECT_EQ(b.exit_code, 0) << b.out << b.err;
    EXPECT_THAT(b.out, HasSubstr("integrity ok"));

    // A restore while the server holds the database is refused, and changes nothing.
    const auto refused = run({VILLAGEBOT_EXE, "restore", during.string(), "--config", v.config.string()});
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_THAT(refused.err, HasSubstr("running villagebot server"));
    // So is a second server on the same database.
    auto second = run({VILLAGEBOT_EXE, "serve", "--config", v.config.string()}, "", std::chrono::seconds(20));
    EXPECT_NE(second.exit_code, 0);
    EXPECT_THAT(second.err, HasSubstr("in use"));

    server.signal(SIGTERM);
    EXPECT_EQ(server.wait().exit_code, 0);
  }
  // The copy taken under load is a consistent snapshot: it opens, passes SQLite's check and
  // holds a prefix of what the server accepted.
  const auto in_copy = count(during, "SELECT COUNT(*) FROM core_messages WHERE direction = 'in'");
  const auto in_live = count(v.db, "SELECT COUNT(*) FROM core_messages WHERE direction = 'in'");
  EXPECT_GE(in_copy, 50);
  EXPECT_LT(in_copy, in_live) << "messages answered after the backup are not in it";
  EXPECT_EQ(run({"sqlite3", during.string(), "PRAGMA integrity_check"}).out, "ok\n");

  // Backup of the stopped server, restore into a fresh place: the same database, row for row.
  ASSERT_EQ(run({VILLAGEBOT_EXE, "backup", after.string(), "--config", v.config.string()}).exit_code, 0);
  ProcessVillage fresh({"test_echo"}, "", "", false);
  const auto restored = run({VILLAGEBOT_EXE, "restore", after.string(), "--config", fresh.config.string()});
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  EXPECT_THAT(restored.out, HasSubstr("恢复完成"));
  const std::string original = dump(v.db);
  EXPECT_GT(original.size(), 10000U);
  EXPECT_EQ(dump(fresh.db), original);
  // And it serves: a repeated message id from before the backup is known as a duplicate.
  Child server(fresh.serve_args());
  const int port = port_from_line(server.wait_for_line("listening on"));
  ASSERT_GT(port, 0);
  EXPECT_EQ(post_message(port, "load-1"), 200);
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait().exit_code, 0);
  EXPECT_EQ(count(fresh.db, "SELECT COUNT(*) FROM core_messages WHERE direction = 'in' AND message_id = 'load-1'"), 1);
}

TEST(Backup, ADamagedOrForeignBackupIsNotRestored) {
  ProcessVillage v({"test_echo"});
  const std::string before = dump(v.db);
  const auto garbage = v.dir / "garbage.db";
  std::ofstream(garbage) << std::string(8192, 'x');
  auto r = run({VILLAGEBOT_EXE, "restore", garbage.string(), "--config", v.config.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("restore refused"));
  const auto foreign = v.dir / "foreign.db";
  ASSERT_EQ(run({"sqlite3", foreign.string(), "CREATE TABLE t(x); INSERT INTO t VALUES (1);"}).exit_code, 0);
  r = run({VILLAGEBOT_EXE, "restore", foreign.string(), "--config", v.config.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("not a villagebot database"));
  r = run({VILLAGEBOT_EXE, "restore", (v.dir / "missing.db").string(), "--config", v.config.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(dump(v.db), before) << "a refused restore changes nothing";
  r = run({VILLAGEBOT_EXE, "backup", (v.dir / "no-such-dir" / "b.db").string(), "--config", v.config.string()});
  EXPECT_NE(r.exit_code, 0);
}

}  // namespace
}  // namespace villagebot::testkit
