#include "storage/sqlite_storage.hpp"

#include <sqlite3.h>

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <optional>
#include <utility>

#include <spdlog/spdlog.h>

#include "storage/connection.hpp"

namespace villagebot::storage {

namespace {

// SQLite's words when `e` is a failure of the database itself (a StorageFault).
std::optional<std::string> fault_of(const std::exception_ptr& e) {
  if (!e) return std::nullopt;
  try {
    std::rethrow_exception(e);
  } catch (const StorageFault& fault) {
    return std::string(fault.what());
  } catch (...) {
    return std::nullopt;
  }
}

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

SqliteStorage::SqliteStorage(std::string path, SqliteOptions options) : path_(std::move(path)), options_(options) {
  writer_ = std::make_unique<Connection>(path_, false, options_.synchronous_full, options_.busy_timeout_ms);
  writer_->exec_script(
      "CREATE TABLE IF NOT EXISTS core_schema_versions ("
      " module TEXT PRIMARY KEY, version INTEGER NOT NULL, updated_at INTEGER NOT NULL);");
  writer_thread_ = std::thread([this] { writer_loop(); });
  writer_thread_id_ = writer_thread_.get_id();
}

SqliteStorage::~SqliteStorage() {
  close();
}

void SqliteStorage::close() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !writer_thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_thread_.joinable()) writer_thread_.join();
  if (writer_) {
    try {
      writer_->exec_script("PRAGMA wal_checkpoint(TRUNCATE);");
    } catch (const StorageError&) {  // a reader still open keeps the WAL; not an error at close
    }
  }
  std::lock_guard lock(readers_mutex_);
  readers_.clear();
}

std::size_t SqliteStorage::queue_depth() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

std::uint64_t SqliteStorage::commits() const {
  std::lock_guard lock(mutex_);
  return commits_;
}

WriteHealth SqliteStorage::write_health() const {
  std::lock_guard lock(mutex_);
  return write_health_;
}

void SqliteStorage::write_async(std::function<void(Session&)> work, std::function<void(std::exception_ptr)> done) {
  write_async_pipelined(std::move(work), nullptr, std::move(done));
}

bool SqliteStorage::enqueue(Job& job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

void SqliteStorage::write_async_pipelined(std::function<void(Session&)> work, std::function<void()> executed,
                                          std::function<void(std::exception_ptr)> done) {
  Job job{std::move(work), std::move(executed), std::move(done)};
  if (!enqueue(job) && job.done) job.done(std::make_exception_ptr(StorageError("storage is closed")));
}

void SqliteStorage::write_sync(const std::function<void(Session&)>& work) {
  if (std::this_thread::get_id() == writer_thread_id_) {
    // Called from inside a write job or its completion: already in the
    // writer's transaction, so run in a nested savepoint instead of deadlocking.
    writer_->exec_script("SAVEPOINT nested;");
    try {
      work(*writer_);
    } catch (...) {
      writer_->exec_script("ROLLBACK TO nested; RELEASE nested;");
      throw;
    }
    writer_->exec_script("RELEASE nested;");
    return;
  }
  std::promise<void> promise;
  auto future = promise.get_future();
  Job job{[&work](Session& s) { work(s); }, nullptr,
          [&promise](std::exception_ptr e) {
            if (e)
              promise.set_exception(e);
            else
              promise.set_value();
          }};
  job.blocking = true;
  if (!enqueue(job)) throw StorageError("storage is closed");
  future.get();
}

void SqliteStorage::writer_loop() {
  pthread_setname_np(pthread_self(), "vb-writer");
  std::deque<Job> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      const std::size_t n = std::min(queue_.size(), options_.max_batch);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    run_batch(batch);
    batch.clear();
  }
}

void SqliteStorage::set_commit_hold(std::function<bool()> hold, std::chrono::microseconds at_most) {
  commit_hold_ = std::move(hold);
  commit_hold_max_ = at_most;
}

bool SqliteStorage::run_jobs(std::deque<Job>& batch, std::size_t from, std::vector<std::exception_ptr>& results,
                             std::exception_ptr& batch_error) {
  results.resize(batch.size());
  for (std::size_t i = from; i < batch.size(); ++i) {
    try {
      writer_->execute("SAVEPOINT job", {});
      try {
        batch[i].work(*writer_);
        writer_->execute("RELEASE job", {});
        if (batch[i].executed) {
          try {
            batch[i].executed();
          } catch (...) {  // a continuation must not abort the batch
          }
        }
      } catch (...) {
        results[i] = std::current_exception();
        writer_->execute("ROLLBACK TO job", {});
        writer_->execute("RELEASE job", {});
      }
    } catch (...) {
      // The savepoint machinery itself failed: the transaction is unusable.
      batch_error = std::current_exception();
      return false;
    }
  }
  return true;
}

bool SqliteStorage::take_held(std::deque<Job>& batch, std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(mutex_);
  if (!wake_.wait_until(lock, until, [this] { return stopping_ || !queue_.empty(); }) || queue_.empty()) return false;
  const std::size_t room = options_.max_batch > batch.size() ? options_.max_batch - batch.size() : 0;
  const std::size_t n = std::min(queue_.size(), room);
  for (std::size_t i = 0; i < n; ++i) {
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return n > 0;
}

void SqliteStorage::run_batch(std::deque<Job>& batch) {
  std::vector<std::exception_ptr> results;
  std::exception_ptr batch_error;
  // Only a batch that changed rows proves that writes work: on a full disk a transaction that
  // writes nothing still commits.
  const auto changes_before = sqlite3_total_changes64(writer_->handle());
  try {
    writer_->execute("BEGIN IMMEDIATE", {});
  } catch (...) {
    batch_error = std::current_exception();
  }
  if (!batch_error) {
    bool usable = run_jobs(batch, 0, results, batch_error);
    // The commit hold: work under way will write into this transaction shortly.
    if (usable && commit_hold_) {
      const auto until = std::chrono::steady_clock::now() + commit_hold_max_;
      auto blocking = [&batch](std::size_t from) {
        return std::any_of(batch.begin() + static_cast<std::ptrdiff_t>(from), batch.end(),
                           [](const Job& j) { return j.blocking; });
      };
      bool blocked = blocking(0);
      while (usable && !blocked && commit_hold_() && batch.size() < options_.max_batch) {
        const std::size_t from = batch.size();
        if (!take_held(batch, until)) break;
        blocked = blocking(from);
        usable = run_jobs(batch, from, results, batch_error);
      }
    }
    try {
      if (batch_error) {
        writer_->exec_script("ROLLBACK;");
      } else {
        writer_->execute("COMMIT", {});
      }
    } catch (...) {
      if (!batch_error) batch_error = std::current_exception();
      if (sqlite3_get_autocommit(writer_->handle()) == 0) {
        try {
          writer_->exec_script("ROLLBACK;");
        } catch (...) {  // nothing more can be done; every job reports the failure
        }
      }
    }
  }
  results.resize(batch.size());
  // A storage failure anywhere in the batch (BEGIN, a job, COMMIT) makes the writer failing until
  // a batch that changed rows commits; a job's own error (a constraint, a plugin's refusal) is
  // not a storage failure.
  std::optional<std::string> fault = fault_of(batch_error);
  for (std::size_t i = 0; i < results.size() && !fault; ++i) fault = fault_of(results[i]);
  std::string began, recovered;  // logged outside the lock
  {
    std::lock_guard lock(mutex_);
    if (!batch_error) ++commits_;
    auto& h = write_health_;
    if (fault) {
      if (!h.failing) {
        h.since_ms = unix_ms();
        began = *fault;
      }
      h.failing = true;
      h.error = *fault;
      ++h.failures;
      ++h.total_failures;
    } else if (!batch_error && sqlite3_total_changes64(writer_->handle()) > changes_before) {
      if (h.failing)
        recovered = "after " + std::to_string(h.failures) + " failed batches in " +
                    std::to_string((unix_ms() - h.since_ms) / 1000) + " s (" + h.error + ")";
      h.failing = false;
      h.failures = 0;
      h.last_ok_ms = unix_ms();
    }
  }
  if (!began.empty())
    spdlog::error("database writes failing: {} ({}); messages are refused with 503 until writes work again", began,
                  path_);
  if (!recovered.empty()) spdlog::warn("database writes work again {}", recovered);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i].done) continue;
    try {
      batch[i].done(batch_error ? batch_error : results[i]);
    } catch (...) {  // completions must not take the writer down
    }
  }
}

std::unique_ptr<Connection> SqliteStorage::take_reader() {
  {
    std::lock_guard lock(readers_mutex_);
    if (!readers_.empty()) {
      auto c = std::move(readers_.back());
      readers_.pop_back();
      return c;
    }
  }
  return std::make_unique<Connection>(path_, true, false, options_.busy_timeout_ms);
}

void SqliteStorage::return_reader(std::unique_ptr<Connection> c) {
  std::lock_guard lock(readers_mutex_);
  if (readers_.size() < 16) readers_.push_back(std::move(c));
}

void SqliteStorage::read_sync(const std::function<void(Session&)>& work) {
  auto reader = take_reader();
  reader->execute("BEGIN", {});
  try {
    work(*reader);
  } catch (...) {
    try {
      reader->execute("ROLLBACK", {});
      return_reader(std::move(reader));
    } catch (...) {  // drop a broken connection
    }
    throw;
  }
  reader->execute("COMMIT", {});
  return_reader(std::move(reader));
}

int SqliteStorage::schema_version(std::string_view module) {
  int version = 0;
  read_sync([&](Session& s) {
    auto rows = s.query("SELECT version FROM core_schema_versions WHERE module = ?", {std::string(module)});
    if (!rows.empty()) version = static_cast<int>(rows[0].integer(0));
  });
  return version;
}

void SqliteStorage::migrate(std::string_view module, const std::vector<Migration>& migrations) {
  int newest = 0;
  for (const auto& m : migrations) {
    if (m.version != newest + 1)
      throw StorageError("migrations of module " + std::string(module) + " must be numbered 1, 2, 3 ... in order");
    newest = m.version;
  }
  write_sync([&](Session& session) {
    auto& conn = static_cast<Connection&>(session);
    auto rows = conn.query("SELECT version FROM core_schema_versions WHERE module = ?", {std::string(module)});
    const int current = rows.empty() ? 0 : static_cast<int>(rows[0].integer(0));
    if (current > newest)
      throw StorageError("the database schema of module '" + std::string(module) + "' is version " +
                         std::to_string(current) + ", newer than this villagebot knows (" + std::to_string(newest) +
                         "): refusing to run an older villagebot on a newer database; restore a backup or upgrade");
    for (const auto& m : migrations) {
      if (m.version <= current) continue;
      try {
        conn.exec_script(m.sql);
      } catch (const StorageError& e) {
        throw StorageError("migration " + std::to_string(m.version) + " of module '" + std::string(module) +
                           "' failed: " + e.what());
      }
    }
    if (newest > current)
      conn.execute(
          "INSERT INTO core_schema_versions(module, version, updated_at) VALUES(?, ?, strftime('%s','now')) "
          "ON CONFLICT(module) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
          {std::string(module), std::int64_t{newest}});
  });
}

}  // namespace villagebot::storage
