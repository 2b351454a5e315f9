// The real `villagebot` binary: restarts, SIGTERM under load, kill -9, the CLI.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
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

ClientResponse post(int port, const std::string& body) {
  http::BeastHttpClient client;
  ClientRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/hooks/generic";
  req.body = body;
  req.timeout = std::chrono::seconds(20);
  return client.request(req);
}

std::string message(const std::string& id, const std::string& text) {
  return nlohmann::json{{"message_id", id}, {"sender", "13800000001"}, {"text", text}}.dump();
}

std::int64_t count(const std::filesystem::path& db, const std::string& sql) {
  storage::SqliteStorage s(db.string());
  return s.read([&](Session& session) { return session.query(sql)[0].integer(0); });
}

TEST(Process, TheSameMessageIdIsProcessedOnceAcrossARestart) {
  ProcessVillage v({"test_echo"});
  {
    Child server(v.serve_args());
    const int port = port_from_line(server.wait_for_line("listening on"));
    ASSERT_GT(port, 0);
    EXPECT_EQ(post(port, message("restart-1", "回声 一")).status, 200);
    server.signal(SIGTERM);
    const auto r = server.wait();
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  {
    Child server(v.serve_args());
    const int port = port_from_line(server.wait_for_line("listening on"));
    const auto r = post(port, message("restart-1", "回声 一"));
    EXPECT_THAT(r.body, HasSubstr("\"duplicate\":true"));
    server.signal(SIGTERM);
    const auto exit = server.wait();
    EXPECT_EQ(exit.exit_code, 0) << exit.err;
  }
  EXPECT_EQ(count(v.db, "SELECT COUNT(*) FROM core_messages WHERE direction='in' AND message_id='restart-1'"), 1);
  EXPECT_EQ(count(v.db, "SELECT COUNT(*) FROM test_echo_log"), 1);
}

TEST(Process, SigtermUnderLoadFinishesInFlightRequestsAndExitsCleanly) {
  ProcessVillage v({"test_echo"});
  Child server(v.serve_args());
  const int port = port_from_line(server.wait_for_line("listening on"));
  ASSERT_GT(port, 0);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::atomic<int> bad{0};
  std::mutex ids_mutex;
  std::vector<std::string> answered;
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        const std::string id = "load-" + std::to_string(t) + "-" + std::to_string(i);
        const auto r = post(port, message(id, "回声 " + id));
        if (r.status == 200) {
          ++ok;
          std::lock_guard lock(ids_mutex);
          answered.push_back(id);
        } else if (r.status != 0) {
          ++bad;  // an HTTP error; refused connections after the stop are expected
        }
        if (r.status == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }
  while (ok < 200) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  server.signal(SIGTERM);
  const auto result = server.wait(std::chrono::seconds(30));
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(bad, 0) << "no request was answered with an error";
  storage::SqliteStorage db(v.db.string());
  db.read([&](Session& s) {
    EXPECT_EQ(s.query("PRAGMA integrity_check")[0].text(0), "ok");
    // Everything that was answered is in the log, processed.
    for (const auto& id : answered) {
      auto rows = s.query("SELECT status FROM core_messages WHERE direction='in' AND message_id=?", {id});
      ASSERT_EQ(rows.size(), 1U) << id;
      EXPECT_EQ(rows[0].text(0), "processed") << id;
    }
    EXPECT_EQ(s.query("SELECT COUNT(*) FROM core_messages WHERE direction='in' AND status='accepted'")[0].integer(0),
              0);
  });
}

// Starts the server again: the message left unanswered (and only it) is handled, and
// the server still stops cleanly.
void expect_only_it_recovered_at_restart(const ProcessVillage& v, const std::string& message_id) {
  const std::string processed =
      "SELECT COUNT(*) FROM core_messages WHERE message_id='" + message_id + "' AND status='processed'";
  Child server(v.serve_args());
  ASSERT_GT(port_from_line(server.wait_for_line("listening on")), 0);
  for (int i = 0; i < 300 && count(v.db, processed) != 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(count(v.db, processed), 1) << message_id << " is handled after the restart";
  server.signal(SIGTERM);
  const auto stopped = server.wait();
  EXPECT_EQ(stopped.exit_code, 0);
  EXPECT_THAT(stopped.err + stopped.out, HasSubstr("recovered 1 message(s)"));
}

TEST(Process, KillDashNineLosesNothingAccepted) {
  ProcessVillage v({"test_echo"}, "[plugins.test_echo]\nslow_ms = 4000\n");
  {
    Child server(v.serve_args());
    const int port = port_from_line(server.wait_for_line("listening on"));
    for (const char* id : {"before-1", "before-2"}) EXPECT_EQ(post(port, message(id, "回声 先")).status, 200);
    std::thread slow([port] { post(port, message("killed-1", "slow")); });
    // Wait until the message is durably accepted, then kill mid-handler.
    for (int i = 0; i < 200; ++i) {
      if (count(v.db, "SELECT COUNT(*) FROM core_messages WHERE message_id='killed-1'") == 1) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // Messages answered while the slow one is in flight, each on its own: a slow handler holds up
    // no one else, and the recovery mark moves up to the message in flight, not past it.
    for (const char* id : {"after-1", "after-2", "after-3"}) EXPECT_EQ(post(port, message(id, "回声 后")).status, 200);
    const auto killed_id = count(v.db, "SELECT id FROM core_messages WHERE message_id='killed-1'");
    for (int i = 0;
         i < 100 && count(v.db, "SELECT COALESCE(MAX(scan_from), -1) FROM core_inbound_mark") < killed_id - 1; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(count(v.db, "SELECT COALESCE(MAX(scan_from), -1) FROM core_inbound_mark"), killed_id - 1)
        << "the mark stops below the message in flight";
    EXPECT_EQ(count(v.db, "SELECT COUNT(*) FROM core_messages WHERE message_id LIKE 'after-%' AND status='processed'"),
              3);
    server.signal(SIGKILL);
    server.wait();
    slow.join();
  }
  EXPECT_EQ(count(v.db, "SELECT COUNT(*) FROM core_messages WHERE message_id='killed-1' AND status='accepted'"), 1);
  // Only the message in flight: those answered before it are not handled again.
  expect_only_it_recovered_at_restart(v, "killed-1");
}

// The configs the project ships (the demo's, with the points plugin's rules and
// store, and the documented example) pass `config check` against this build's
// modules; a misspelt key inside a plugin's [[table]] is reported with its line.
TEST(Process, ShippedConfigsPassConfigCheck) {
  const auto dir = make_temp_dir("villagebot-shipped-config");
  ::setenv("GENERIC_SECRET", "s3cret", 1);
  for (const char* shipped : {"config/demo/villagebot.toml", "config/villagebot.example.toml"}) {
    std::ifstream in(std::string(VILLAGEBOT_SOURCE_DIR) + "/" + shipped);
    std::string toml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto at = toml.find("dir = \"build/plugins\"");
    ASSERT_NE(at, std::string::npos) << shipped;
    toml.replace(at, std::string("dir = \"build/plugins\"").size(), "dir = \"" VILLAGEBOT_MODULE_DIR "\"");
    const auto copy = dir / "villagebot.toml";
    std::ofstream(copy) << toml;
    const auto r = run({VILLAGEBOT_EXE, "config", "check", copy.string()});
    EXPECT_EQ(r.exit_code, 0) << shipped << "\n" << r.out << r.err;
    if (std::string(shipped).find("demo") == std::string::npos) continue;
    const auto cap = toml.find("monthly_cap = ");
    ASSERT_NE(cap, std::string::npos);
    toml.replace(cap, std::string("monthly_cap").size(), "monthy_cap");
    std::ofstream(copy) << toml;
    const auto bad = run({VILLAGEBOT_EXE, "config", "check", copy.string()});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_THAT(bad.out, HasSubstr("key 'plugins.points.rules[0].monthy_cap': unknown key"));
  }
  std::filesystem::remove_all(dir);
}

TEST(Process, ConfigCheckPrintsOkOrEveryErrorWithFileLineAndKey) {
  ProcessVillage good({"test_echo"}, "", "", false);
  const auto ok = run({VILLAGEBOT_EXE, "config", "check", good.config.string()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("OK"));

  ProcessVillage bad({"test_echo"}, "[plugins.test_echo]\nslow_ms = -5\ncolour = \"red\"\n", "secret = 42\n", false);
  { std::ofstream(bad.config, std::ios::app) << "\n[server2]\nx = 1\n"; }
  const auto r = run({VILLAGEBOT_EXE, "config", "check", bad.config.string()});
  EXPECT_NE(r.exit_code, 0);
  const std::string file = bad.config.string();
  EXPECT_THAT(r.out, HasSubstr(file + ":"));
  EXPECT_THAT(r.out, HasSubstr("key 'plugins.test_echo.slow_ms': must be between 0 and 60000"));
  EXPECT_THAT(r.out, HasSubstr("key 'plugins.test_echo.colour': unknown key"));
  EXPECT_THAT(r.out, HasSubstr("key 'adapters[0].secret': must be a string"));
  EXPECT_THAT(r.out, HasSubstr("key 'server2': unknown key"));
  // The line number is the line the key is on.
  std::ifstream in(bad.config);
  std::string line;
  int number = 0;
  int slow_line = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.rfind("slow_ms", 0) == 0) slow_line = number;
  }
  EXPECT_THAT(r.out, HasSubstr(":" + std::to_string(slow_line) + ": key 'plugins.test_echo.slow_ms'")) << r.out;
}

TEST(Process, AMissingSecretVariableIsAnErrorNamingIt) {
  ProcessVillage v({}, "", "secret = \"${VILLAGEBOT_TEST_UNSET_SECRET}\"\n", false);
  const auto r = run({VILLAGEBOT_EXE, "config", "check", v.config.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("VILLAGEBOT_TEST_UNSET_SECRET is not set"));
}

TEST(Process, ChatTalksToTheBotLikeAVillager) {
  ProcessVillage v({"test_echo"});
  const auto r =
      run({VILLAGEBOT_EXE, "chat", "--as", "13800000001", "--config", v.config.string()}, "帮助\n回声 你好\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("退订"));
  EXPECT_THAT(r.out, HasSubstr("你好"));
  EXPECT_EQ(count(v.db, "SELECT COUNT(*) FROM core_messages WHERE adapter_id='console' AND direction='in'"), 2);
}

TEST(Process, ChatBesideARunningServerLeavesTheServersMessagesAlone) {
  ProcessVillage v({"test_echo"});
  {
    // A message the server has accepted and is still working on.
    storage::SqliteStorage db(v.db.string());
    db.write([](Session& s) {
      s.execute(
          "INSERT INTO core_messages(direction, adapter_id, message_id, address, text, status, created_at, "
          "updated_at) VALUES('in', 'generic', 'server-busy', '13800000001', '回声 服务器的', 'accepted', 1, 1)");
    });
  }
  const auto r = run({VILLAGEBOT_EXE, "chat", "--as", "13800000001", "--config", v.config.string()}, "回声 我的\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "我的\n") << "exactly the chat's own answer";
  EXPECT_EQ(count(v.db, "SELECT COUNT(*) FROM core_messages WHERE message_id='server-busy' AND status='accepted'"), 1);
}

// `villagebot chat` beside a running server accepts messages into the same log, between the
// server's ids. If it dies mid-message, that row stays unanswered: the server's recovery
// mark must not pass it (or it would never be answered), and the next start answers it.
TEST(Process, TheRecoveryMarkWaitsBelowAMessageAnotherProcessHasNotAnswered) {
  ProcessVillage v({"test_echo"});
  auto foreign = [&](const std::string& id) {  // what a chat that died mid-message leaves behind
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    storage::SqliteStorage db(v.db.string());
    db.write([&](Session& s) {
      s.execute(
          "INSERT INTO core_messages(direction, adapter_id, message_id, address, text, status, created_at, "
          "updated_at) VALUES('in', 'console', ?, '13800000002', '回声 聊天的', 'accepted', ?, ?)",
          {id, now, now});
    });
    return count(v.db, "SELECT id FROM core_messages WHERE message_id='" + id + "'");
  };
  auto mark = [&] { return count(v.db, "SELECT COALESCE(MAX(scan_from), -1) FROM core_inbound_mark"); };
  auto settle = [&](std::int64_t at_least) {
    for (int i = 0; i < 100 && mark() < at_least; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  };
  {
    Child server(v.serve_args());
    const int port = port_from_line(server.wait_for_line("listening on"));
    ASSERT_EQ(post(port, message("s-1", "回声 一")).status, 200);
    const auto f1 = foreign("chat-1");
    for (const char* id : {"s-2", "s-3", "s-4"}) ASSERT_EQ(post(port, message(id, "回声 二")).status, 200);
    settle(f1 - 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // would it move further?
    EXPECT_EQ(mark(), f1 - 1) << "the mark stops below the other process's unanswered message";

    // The chat answers it after all; a second chat message is left unanswered.
    storage::SqliteStorage(v.db.string()).write([&](Session& s) {
      s.execute("UPDATE core_messages SET status='processed' WHERE id=?", {f1});
    });
    const auto f2 = foreign("chat-2");
    for (const char* id : {"s-5", "s-6"}) ASSERT_EQ(post(port, message(id, "回声 三")).status, 200);
    settle(f2 - 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(mark(), f2 - 1) << "past the one answered since, below the one still waiting";
    server.signal(SIGKILL);
    server.wait();
  }
  expect_only_it_recovered_at_restart(v, "chat-2");
}

TEST(Process, VersionAndHelp) {
  const auto version = run({VILLAGEBOT_EXE, "--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_THAT(version.out, HasSubstr("villagebot 0."));
  const auto help = run({VILLAGEBOT_EXE, "--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* cmd : {"serve", "config", "chat", "import", "token"}) EXPECT_THAT(help.out, HasSubstr(cmd));
}

TEST(Process, TokenCreatePrintsTheTokenOnceAndStoresOnlyItsHash) {
  ProcessVillage v({}, "", "", false);
  const auto r =
      run({VILLAGEBOT_EXE, "token", "create", "--name", "county-it", "--role", "admin", "--config", v.config.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string token = r.out.substr(0, r.out.find('\n'));
  EXPECT_EQ(token.rfind("vb_", 0), 0U);
  EXPECT_EQ(count(v.db, "SELECT COUNT(*) FROM core_tokens WHERE name='county-it' AND token_hash != '" + token + "'"),
            1);
  const auto again =
      run({VILLAGEBOT_EXE, "token", "create", "--name", "county-it", "--role", "admin", "--config", v.config.string()});
  EXPECT_NE(again.exit_code, 0);
}

}  // namespace
}  // namespace villagebot::testkit
