#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "villagebot/storage.hpp"

struct sqlite3;

namespace villagebot::storage {

class Connection;

struct SqliteOptions {
  // FULL survives power loss (fsync on every commit); group commit keeps it fast.
  bool synchronous_full = true;
  int busy_timeout_ms = 5000;
  std::size_t max_batch = 512;  // write jobs per commit
};

// SQLite in WAL mode with exactly one writer: a dedicated thread that takes
// every queued write, runs each in its own savepoint inside one transaction and
// commits once (group commit). Reads use their own connections on the caller's
// thread and never wait for the writer.
// How the writer is doing, for /healthz: a write that failed for a storage reason (a full disk, a
// lock held by another process, an I/O error) makes it failing until the next write succeeds.
struct WriteHealth {
  bool failing = false;
  std::string error;                 // the last storage failure (SQLite's words)
  std::uint64_t failures = 0;        // failed batches in a row
  std::uint64_t total_failures = 0;  // since the start
  std::int64_t since_ms = 0;         // when the current failure began (unix ms)
  std::int64_t last_ok_ms = 0;       // the last successful commit (unix ms)
};

class SqliteStorage final : public Storage {
 public:
  explicit SqliteStorage(std::string path, SqliteOptions options = {});
  ~SqliteStorage() override;
  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

  void migrate(std::string_view module, const std::vector<Migration>& migrations) override;
  void write_sync(const std::function<void(Session&)>& work) override;
  void write_async(std::function<void(Session&)> work, std::function<void(std::exception_ptr)> done) override;
  void write_async_pipelined(std::function<void(Session&)> work, std::function<void()> executed,
                             std::function<void(std::exception_ptr)> done) override;
  void read_sync(const std::function<void(Session&)>& work) override;

  // The version of a module's schema in the database (0 if none).
  int schema_version(std::string_view module);
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::size_t queue_depth() const;
  [[nodiscard]] std::uint64_t commits() const;
  [[nodiscard]] WriteHealth write_health() const;
  // Stops the writer after draining the queue; later writes throw.
  void close();
  // Asked by the writer before it commits (on the writer thread): true while work that will
  // write into the open transaction is under way elsewhere (the pipeline's handlers of messages
  // accepted in it). The writer then waits for that work, up to `at_most`, and runs what
  // arrives in the same transaction: a message's answer is logged in the transaction that
  // accepted it, so its pages are written once instead of twice. It stops waiting at once
  // when a job of the transaction has a caller blocked on the commit (write_sync), which may
  // be the very work it waits for. Set before the first write.
  void set_commit_hold(std::function<bool()> hold, std::chrono::microseconds at_most);

 private:
  struct Job {
    std::function<void(Session&)> work;
    std::function<void()> executed;
    std::function<void(std::exception_ptr)> done;
    bool blocking = false;  // a caller waits for its commit (write_sync)
  };
  // Queues the job and wakes the writer; false (the job untouched) when the storage is closed.
  bool enqueue(Job& job);
  void writer_loop();
  void run_batch(std::deque<Job>& batch);
  // Runs batch[from..] in their savepoints; false when the transaction is unusable.
  bool run_jobs(std::deque<Job>& batch, std::size_t from, std::vector<std::exception_ptr>& results,
                std::exception_ptr& batch_error);
  // Waits for jobs (the commit hold) and appends them to the batch; false when none came.
  bool take_held(std::deque<Job>& batch, std::chrono::steady_clock::time_point until);
  std::unique_ptr<Connection> take_reader();
  void return_reader(std::unique_ptr<Connection> c);

  std::string path_;
  SqliteOptions options_;
  std::unique_ptr<Connection> writer_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::uint64_t commits_ = 0;
  WriteHealth write_health_;
  std::thread::id writer_thread_id_;
  std::function<bool()> commit_hold_;
  std::chrono::microseconds commit_hold_max_{0};
  std::mutex readers_mutex_;
  std::vector<std::unique_ptr<Connection>> readers_;
  std::thread writer_thread_;
};

}  // namespace villagebot::storage
