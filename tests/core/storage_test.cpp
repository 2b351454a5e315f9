#include "storage/sqlite_storage.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <stdlib.h>

#include "storage/core_schema.hpp"
#include "temp_dir.hpp"

namespace villagebot::storage {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

using testkit::TempDir;

// Counts finished jobs; waits with a deadline instead of sleeping.
class Countdown {
 public:
  explicit Countdown(int n) : left_(n) {}
  void done() {
    std::lock_guard lock(mutex_);
    if (--left_ <= 0) cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds limit = 5000ms) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [this] { return left_ <= 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int left_;
};

// Holds the writer thread inside one write job until opened, the way a slow
// fsync would. Jobs queued meanwhile are committed together afterwards.
// Declare it after the storage so it opens before the storage is destroyed.
class WriterGate {
 public:
  explicit WriterGate(SqliteStorage& storage, std::function<void(Session&)> inside = {}) {
    auto entered = std::make_shared<std::promise<void>>();
    auto entered_future = entered->get_future();
    storage.write_async(
        [entered, inside = std::move(inside), gate = gate_](Session& s) {
          if (inside) inside(s);
          entered->set_value();
          gate.wait();
        },
        [done = done_](std::exception_ptr) { done->set_value(); });
    entered_future.wait();
  }
  ~WriterGate() { open(); }
  WriterGate(const WriterGate&) = delete;
  WriterGate& operator=(const WriterGate&) = delete;
  void open() {
    if (!opened_) {
      opened_ = true;
      release_.set_value();
    }
  }
  // Waits until the gate's own job has committed.
  bool committed(std::chrono::milliseconds limit = 5000ms) {
    return done_future_.wait_for(limit) == std::future_status::ready;
  }

 private:
  std::promise<void> release_;
  std::shared_future<void> gate_ = release_.get_future().share();
  std::shared_ptr<std::promise<void>> done_ = std::make_shared<std::promise<void>>();
  std::future<void> done_future_ = done_->get_future();
  bool opened_ = false;
};

const std::vector<Migration> kItemsV1 = {
    {1, "CREATE TABLE demo_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"},
};
const std::vector<Migration> kItemsV2 = {
    kItemsV1[0],
    {2, "ALTER TABLE demo_items ADD COLUMN qty INTEGER NOT NULL DEFAULT 0;"},
};

std::int64_t count_items(SqliteStorage& s, const std::string& table = "demo_items") {
  return s.read([&](Session& session) { return session.query("SELECT COUNT(*) FROM " + table)[0].integer(0); });
}

bool table_exists(SqliteStorage& s, const std::string& name) {
  return s.read([&](Session& session) {
    return !session.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", {name}).empty();
  });
}

void insert_item(Session& s, const std::string& name) {
  s.execute("INSERT INTO demo_items(name) VALUES(?)", {name});
}

// ---- Migrations -------------------------------------------------------------

TEST(SqliteStorage, MigrationsApplyOnceAndAreIdempotentAcrossReopen) {
  TempDir dir;
  const auto path = dir.file("village.db");
  {
    SqliteStorage s(path);
    EXPECT_EQ(s.schema_version("demo"), 0);
    s.migrate("demo", kItemsV1);
    EXPECT_EQ(s.schema_version("demo"), 1);
    // Running the same migrations again does nothing (a CREATE TABLE re-run would fail).
    EXPECT_NO_THROW(s.migrate("demo", kItemsV1));
    s.write([](Session& session) { insert_item(session, "扫帚"); });
  }
  {
    SqliteStorage s(path);
    EXPECT_EQ(s.schema_version("demo"), 1);
    EXPECT_NO_THROW(s.migrate("demo", kItemsV1));
    s.migrate("demo", kItemsV2);  // only migration 2 runs
    EXPECT_EQ(s.schema_version("demo"), 2);
    EXPECT_EQ(s.schema_version("other"), 0);
    const auto rows = s.read([](Session& session) { return session.query("SELECT name, qty FROM demo_items"); });
    ASSERT_EQ(rows.size(), 1U);
    EXPECT_EQ(rows[0].text(0), "扫帚");
    EXPECT_EQ(rows[0].integer(1), 0);
  }
}

TEST(SqliteStorage, CoreMigrationsApply) {
  TempDir dir;
  SqliteStorage s(dir.file("core.db"));
  s.migrate("core", core_migrations());
  EXPECT_EQ(s.schema_version("core"), static_cast<int>(core_migrations().size()));
  for (const char* table : {"core_persons", "core_households", "core_messages", "core_jobs", "core_tokens"})
    EXPECT_TRUE(table_exists(s, table)) << table;
}

TEST(SqliteStorage, FailingMigrationRollsBackEntirely) {
  TempDir dir;
  SqliteStorage s(dir.file("village.db"));
  const std::vector<Migration> broken = {
      {1, "CREATE TABLE demo_a (x INTEGER);"},
      {2, "CREATE TABLE demo_b (x INTEGER); INSERT INTO demo_b VALUES (1); INSERT INTO no_such_table VALUES (1);"},
  };
  try {
    s.migrate("demo", broken);
    FAIL() << "a broken migration must throw";
  } catch (const StorageError& e) {
    EXPECT_THAT(e.what(), HasSubstr("migration 2 of module 'demo' failed"));
    EXPECT_THAT(e.what(), HasSubstr("no_such_table"));
  }
  EXPECT_EQ(s.schema_version("demo"), 0);
  EXPECT_FALSE(table_exists(s, "demo_a"));  // migration 1 of the same run is undone too
  EXPECT_FALSE(table_exists(s, "demo_b"));

  // A fixed release then migrates cleanly.
  s.migrate("demo", {{1, "CREATE TABLE demo_a (x INTEGER);"}, {2, "CREATE TABLE demo_b (x INTEGER);"}});
  EXPECT_EQ(s.schema_version("demo"), 2);
  EXPECT_TRUE(table_exists(s, "demo_b"));
}

TEST(SqliteStorage, FailingLaterMigrationKeepsTheEarlierRelease) {
  TempDir dir;
  SqliteStorage s(dir.file("village.db"));
  s.migrate("demo", kItemsV1);
  s.write([](Session& session) { insert_item(session, "a"); });
  auto bad = kItemsV1;
  bad.push_back({2, "ALTER TABLE demo_items ADD COLUMN qty INTEGER;"});
  bad.push_back({3, "THIS IS NOT SQL;"});
  EXPECT_THROW(s.migrate("demo", bad), StorageError);
  EXPECT_EQ(s.schema_version("demo"), 1);
  // Migration 2 was rolled back with 3: adding the column again works.
  EXPECT_NO_THROW(s.migrate("demo", kItemsV2));
  EXPECT_EQ(count_items(s), 1);
}

TEST(SqliteStorage, MisnumberedMigrationsAreRefusedBeforeRunning) {
  TempDir dir;
  SqliteStorage s(dir.file("village.db"));
  EXPECT_THROW(s.migrate("demo", {{1, "CREATE TABLE demo_a (x);"}, {3, "CREATE TABLE demo_c (x);"}}), StorageError);
  EXPECT_THROW(s.migrate("demo", {{2, "CREATE TABLE demo_b (x);"}}), StorageError);
  EXPECT_FALSE(table_exists(s, "demo_a"));
  EXPECT_EQ(s.schema_version("demo"), 0);
}

TEST(SqliteStorage, NewerDatabaseIsRefused) {
  TempDir dir;
  const auto path = dir.file("village.db");
  {
    SqliteStorage s(path);
    s.migrate("demo", kItemsV2);
    s.write([](Session& session) { insert_item(session, "kept"); });
  }
  SqliteStorage older(path);
  try {
    older.migrate("demo", kItemsV1);  // an older villagebot knows only version 1
    FAIL() << "an older villagebot must refuse a newer database";
  } catch (const StorageError& e) {
    EXPECT_THAT(e.what(), HasSubstr("newer than this villagebot"));
    EXPECT_THAT(e.what(), HasSubstr("'demo'"));
  }
  EXPECT_EQ(older.schema_version("demo"), 2);
  EXPECT_EQ(count_items(older), 1);
}

// ---- Writes -----------------------------------------------------------------

TEST(SqliteStorage, ThrowingWriteJobRollsBackOnlyItself) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  // Declared before the storage: completions may still run while it closes.
  std::mutex results_mutex;
  std::map<std::string, std::exception_ptr> results;
  Countdown finished(kThreads * kPerThread);
  TempDir dir;
  SqliteStorage s(dir.file("village.db"));
  s.migrate("demo", kItemsV1);
  const auto commits_before = s.commits();
  {
    WriterGate gate(s);  // every job below lands in the same transaction
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          const std::string name = "item-" + std::to_string(t) + "-" + std::to_string(i);
          s.write_async(
              [name](Session& session) {
                insert_item(session, name);
                if (name == "item-2-7") throw std::runtime_error("boom after insert");
              },
              [&, name](std::exception_ptr e) {
                {
                  std::lock_guard lock(results_mutex);
                  results[name] = e;
                }
                finished.done();
              });
        }
      });
    }
    for (auto& th : threads) th.join();
    gate.open();
    ASSERT_TRUE(finished.wait());
  }
  EXPECT_EQ(s.commits() - commits_before, 2U) << "gate + one batch holding every job";

  ASSERT_EQ(results.size(), static_cast<std::size_t>(kThreads * kPerThread));
  for (const auto& [name, error] : results) {
    if (name == "item-2-7") {
      ASSERT_TRUE(error) << name;
      try {
        std::rethrow_exception(error);
      } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "boom after insert");
      }
    } else {
      EXPECT_FALSE(error) << name;
    }
  }
  EXPECT_EQ(count_items(s), kThreads * kPerThread - 1);
  const auto failed = s.read([](Session& session) {
    return session.query("SELECT COUNT(*) FROM demo_items WHERE name = 'item-2-7'")[0].integer(0);
  });
  EXPECT_EQ(failed, 0);
}

TEST(SqliteStorage, WriteSyncRethrowsAndChangesNothing) {
  TempDir dir;
  SqliteStorage s(dir.file("village.db"));
  s.migrate("demo", kItemsV1);
  EXPECT_THROW(s.write([](Session& session) {
    insert_item(session, "a");
    insert_item(session, "b");
    throw std::logic_error("refused");
  }),
               std::logic_error);
  EXPECT_EQ(count_items(s), 0);
}

TEST(SqliteStorage, UniqueViolationIsAConstraintError) {
  TempDir dir;
  SqliteStorage s(dir.file("village.db"));
  s.migrate("demo", kItemsV1);
  s.write([](Session& session) { insert_item(session, "13800000001"); });
  EXPECT_THROW(s.write([](Session& session) { insert_item(session, "13800000001"); }), ConstraintError);

  std::promise<std::exception_ptr> result;
  s.write_async([](Session& session) { insert_item(session, "13800000001"); },
                [&](std::exception_ptr e) { result.set_value(e); });
  auto error = result.get_future().get();
  ASSERT_TRUE(error);
  EXPECT_THROW(std::rethrow_exception(error), ConstraintError);

  // Other failures are StorageErrors but not constraint errors.
  try {
    s.write([](Session& session) { session.execute("INSERT INTO no_such_table VALUES (1)"); });
    FAIL() << "must throw";
  } catch (const ConstraintError&) {
    FAIL() << "a missing table is not a constraint violation";
  } catch (const StorageError&) {
  }
  EXPECT_EQ(count_items(s), 1);
}

TEST(SqliteStorage, ForeignKeyAndNotNullViolationsAreConstraintErrors) {
  TempDir dir;
  SqliteStorage s(dir.file("village.db"));
  s.migrate("core", core_migrations());
  EXPECT_THROW(s.write([](Session& session) {
    session.execute("INSERT INTO core_persons(name, household_id) VALUES(?, ?)",
                    {std::string("张三"), std::int64_t{999}});
  }),
               ConstraintError);
  EXPECT_THROW(s.write([](Session& session) { session.execute("INSERT INTO core_persons(name) VALUES(NULL)"); }),
               ConstraintError);
  EXPECT_EQ(count_items(s, "core_persons"), 0);
}

TEST(SqliteStorage, ReadsSeeCommittedWritesButNeverUncommittedOnes) {
  TempDir dir;
  SqliteStorage s(dir.file("village.db"));
  s.migrate("demo", kItemsV1);
  {
    // The writer is inside a transaction that has inserted a row but not committed.
    WriterGate gate(s, [](Session& session) { insert_item(session, "pending"); });
    // A read does not wait for the writer and does not see its work.
    EXPECT_EQ(count_items(s), 0);
    gate.open();
    ASSERT_TRUE(gate.committed());
  }
  EXPECT_EQ(count_items(s), 1);
  s.write([](Session& session) { insert_item(session, "second"); });
  EXPECT_EQ(count_items(s), 2);  // visible as soon as write returns
}

TEST(SqliteStorage, GroupCommitBatchesConcurrentJobs) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 250;
  std::atomic<int> failures{0};
  Countdown finished(kThreads * kPerThread);
  TempDir dir;
  SqliteStorage s(dir.file("village.db"));
  s.migrate("demo", kItemsV1);
  const auto commits_before = s.commits();
  {
    WriterGate gate(s);  // a slow commit in progress while the villagers keep typing
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          s.write_async(
              [name = std::to_string(t) + "/" + std::to_string(i)](Session& session) { insert_item(session, name); },
              [&](std::exception_ptr e) {
                if (e) ++failures;
                finished.done();
              });
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(s.queue_depth(), static_cast<std::size_t>(kThreads * kPerThread));
    gate.open();
    ASSERT_TRUE(finished.wait());
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(count_items(s), kThreads * kPerThread);
  // 1000 jobs: the gate's commit plus at most two batches (max_batch 512).
  EXPECT_LE(s.commits() - commits_before, 3U);
  EXPECT_EQ(s.queue_depth(), 0U);
}

TEST(SqliteStorage, ConcurrentWriteSyncCallersAllCommit) {
  TempDir dir;
  SqliteStorage s(dir.file("village.db"));
  s.migrate("demo", kItemsV1);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        try {
          s.write([&](Session& session) { insert_item(session, std::to_string(t) + ":" + std::to_string(i)); });
        } catch (...) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(count_items(s), 200);
}

// The pipeline's case: a message is accepted, its handler runs elsewhere and logs the answer
// with a write of its own; the commit waits for that write, so both are in one commit.
TEST(SqliteStorage, ACommitHoldTakesTheAwaitedWriteIntoTheSameCommit) {
  TempDir dir;
  SqliteStorage s(dir.file("village.db"));
  s.migrate("demo", kItemsV1);
  std::atomic<bool> awaited{false};
  s.set_commit_hold([&awaited] { return awaited.load(); }, 30s);
  const auto commits_before = s.commits();
  std::promise<int> accept_saw;  // items visible to a reader when the first job's commit is done
  std::promise<void> answered;
  std::thread handler;
  s.write_async_pipelined([](Session& session) { insert_item(session, "accepted"); },
                          [&] {
                            awaited = true;
                            handler = std::thread([&] {
                              std::this_thread::sleep_for(50ms);  // the handler at work
                              s.write_async(
                                  [&awaited](Session& session) {
                                    insert_item(session, "answer");
                                    awaited = false;
                                  },
                                  [&answered](std::exception_ptr) { answered.set_value(); });
                            });
                          },
                          [&](std::exception_ptr) { accept_saw.set_value(count_items(s)); });
  auto seen = accept_saw.get_future();
  ASSERT_EQ(seen.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(seen.get(), 2) << "the answer was committed with the message";
  EXPECT_EQ(answered.get_future().wait_for(10s), std::future_status::ready);
  handler.join();
  EXPECT_EQ(s.commits() - commits_before, 1U);
}

TEST(SqliteStorage, ACommitHoldEndsAtItsLimit) {
  TempDir dir;
  SqliteStorage s(dir.file("village.db"));
  s.migrate("demo", kItemsV1);
  s.set_commit_hold([] { return true; }, 100ms);  // work that never comes
  std::promise<void> done;
  s.write_async([](Session& session) { insert_item(session, "alone"); },
                [&done](std::exception_ptr) { done.set_value(); });
  EXPECT_EQ(done.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_EQ(count_items(s), 1);
}

// A handler that writes and waits for the commit may be the very work the hold waits for: the
// writer commits as soon as such a job is in its transaction, instead of waiting out the limit.
TEST(SqliteStorage, ACommitHoldDoesNotWaitOnACallerBlockedOnTheCommit) {
  TempDir dir;
  SqliteStorage s(dir.file("village.db"));
  s.migrate("demo", kItemsV1);
  s.set_commit_hold([] { return true; }, 60s);
  const auto started = std::chrono::steady_clock::now();
  s.write([](Session& session) { insert_item(session, "blocking"); });
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s) << "the hold's limit was not waited out";
  EXPECT_EQ(count_items(s), 1);
}

TEST(SqliteStorage, NestedWriteFromInsideAWriteJobUsesASavepoint) {
  TempDir dir;
  SqliteStorage s(dir.file("village.db"));
  s.migrate("demo", kItemsV1);
  s.write([&](Session& session) {
    insert_item(session, "outer-before");
    // A plugin helper that itself calls storage.write must not deadlock.
    s.write([](Session& inner) { insert_item(inner, "nested-ok"); });
    try {
      s.write([](Session& inner) {
        insert_item(inner, "nested-failed");
        throw std::runtime_error("inner refused");
      });
      ADD_FAILURE() << "the nested failure must reach the outer job";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "inner refused");
    }
    insert_item(session, "outer-after");
  });
  const auto names = s.read([](Session& session) {
    std::vector<std::string> out;
    for (const auto& r : session.query("SELECT name FROM demo_items ORDER BY id")) out.push_back(r.text(0));
    return out;
  });
  EXPECT_THAT(names, ::testing::ElementsAre("outer-before", "nested-ok", "outer-after"));
}

TEST(SqliteStorage, WriteReturnsTheJobsResult) {
  TempDir dir;
  SqliteStorage s(dir.file("village.db"));
  s.migrate("demo", kItemsV1);
  const auto first = s.write([](Session& session) {
    insert_item(session, "a");
    return session.last_insert_id();
  });
  const auto second = s.write([](Session& session) {
    insert_item(session, "b");
    return session.last_insert_id();
  });
  EXPECT_GT(first, 0);
  EXPECT_EQ(second, first + 1);
  const auto changed =
      s.write([](Session& session) { return session.execute("UPDATE demo_items SET name = name || '!'"); });
  EXPECT_EQ(changed, 2);
}

TEST(SqliteStorage, AcceptedWritesSurviveCloseAndReopen) {
  TempDir dir;
  const auto path = dir.file("village.db");
  {
    SqliteStorage s(path);
    s.migrate("demo", kItemsV1);
    // Queued but not waited for: closing drains the queue rather than dropping it.
    for (int i = 0; i < 20; ++i)
      s.write_async([i](Session& session) { insert_item(session, "m" + std::to_string(i)); }, {});
  }
  SqliteStorage reopened(path);
  EXPECT_EQ(count_items(reopened), 20);
}

TEST(SqliteStorage, WritesAfterCloseFailClearly) {
  TempDir dir;
  SqliteStorage s(dir.file("village.db"));
  s.migrate("demo", kItemsV1);
  s.close();
  EXPECT_THROW(s.write([](Session& session) { insert_item(session, "late"); }), StorageError);
  std::exception_ptr error;
  s.write_async([](Session& session) { insert_item(session, "late"); }, [&](std::exception_ptr e) { error = e; });
  ASSERT_TRUE(error);  // reported at once: nothing will ever run it
  EXPECT_THROW(std::rethrow_exception(error), StorageError);
  s.close();  // closing twice is harmless
}

TEST(SqliteStorage, AFileThatIsNotADatabaseIsRefused) {
  TempDir dir;
  const auto path = dir.file("people.csv");
  {
    std::ofstream out(path);
    for (int i = 0; i < 50; ++i) out << "户号,姓名,手机\nH001,张三,13800000001\n";
  }
  EXPECT_THROW(SqliteStorage{path}, StorageError);
  std::ifstream in(path);
  std::string first_line;
  std::getline(in, first_line);
  EXPECT_EQ(first_line, "户号,姓名,手机") << "the file must be left alone";

  const auto missing_dir = dir.file("no/such/dir/village.db");
  try {
    SqliteStorage s(missing_dir);
    FAIL() << "opening a database in a missing directory must fail";
  } catch (const StorageError& e) {
    EXPECT_THAT(e.what(), HasSubstr(missing_dir));
  }
}

// ---- Values -----------------------------------------------------------------

TEST(SqliteStorage, ParametersRoundTripWithTheirTypes) {
  TempDir dir;
  SqliteStorage s(dir.file("village.db"));
  s.migrate("demo", {{1, "CREATE TABLE demo_values (id INTEGER PRIMARY KEY, v);"}});
  const std::string injection = "'); DROP TABLE demo_values; --";
  const std::vector<Value> values = {
      std::int64_t{0},
      std::numeric_limits<std::int64_t>::max(),
      std::numeric_limits<std::int64_t>::min(),
      3.25,
      -0.1,
      std::string("张三 积分+10 ✓"),
      injection,
      std::string(),
      nullptr,
      std::string("13800000001"),  // a phone number stays text, not a number
  };
  s.write([&](Session& session) {
    for (const auto& v : values) session.execute("INSERT INTO demo_values(v) VALUES(?)", {v});
  });
  const auto rows =
      s.read([](Session& session) { return session.query("SELECT v, typeof(v) FROM demo_values ORDER BY id"); });
  ASSERT_EQ(rows.size(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(rows[i].value(0), values[i]);
  }
  EXPECT_EQ(rows[8].text(1), "null");
  EXPECT_TRUE(rows[8].is_null(0));
  EXPECT_EQ(rows[7].text(1), "text");  // '' is not NULL
  EXPECT_EQ(rows[9].text(1), "text");
  EXPECT_EQ(rows[1].integer(0), std::numeric_limits<std::int64_t>::max());
  EXPECT_DOUBLE_EQ(rows[3].real(0), 3.25);
  EXPECT_EQ(rows[6].text(0), injection);
  EXPECT_TRUE(table_exists(s, "demo_values"));

  // Parameters in a WHERE clause match text exactly, injection included.
  const auto found = s.read([&](Session& session) {
    return session.query("SELECT COUNT(*) FROM demo_values WHERE v = ?", {injection})[0].integer(0);
  });
  EXPECT_EQ(found, 1);
}

TEST(SqliteStorage, WrongParameterCountIsAnError) {
  TempDir dir;
  SqliteStorage s(dir.file("village.db"));
  s.migrate("demo", kItemsV1);
  EXPECT_THROW(s.write([](Session& session) { session.execute("INSERT INTO demo_items(name) VALUES(?)", {}); }),
               StorageError);
  EXPECT_THROW(s.write([](Session& session) {
    session.execute("INSERT INTO demo_items(name) VALUES(?)", {std::string("a"), std::string("b")});
  }),
               StorageError);
  EXPECT_EQ(count_items(s), 0);
}

TEST(SqliteStorage, ReadsCannotWriteAndAFailedReadLeavesStorageUsable) {
  TempDir dir;
  SqliteStorage s(dir.file("village.db"));
  s.migrate("demo", kItemsV1);
  EXPECT_THROW(s.read([](Session& session) { insert_item(session, "sneaky"); }), StorageError);
  EXPECT_THROW(s.read([](Session&) { throw std::runtime_error("reader gave up"); }), std::runtime_error);
  s.write([](Session& session) { insert_item(session, "ok"); });
  EXPECT_EQ(count_items(s), 1);
}

}  // namespace
}  // namespace villagebot::storage
