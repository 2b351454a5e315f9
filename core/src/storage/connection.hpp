#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "villagebot/storage.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace villagebot::storage {

// A failure of the database itself rather than of the statement: the disk is full, the file is
// locked by another process, an I/O error, a damaged or read-only file. The writer reports these
// in /healthz (database_writes_failing); a constraint or a plugin's own error is not one.
class StorageFault : public StorageError {
 public:
  using StorageError::StorageError;
};

// True for the SQLite result codes that mean the database, not the statement, failed.
bool is_fault_code(int rc);

// One SQLite connection with a cache of prepared statements keyed by SQL text.
class Connection final : public Session {
 public:
  Connection(const std::string& path, bool read_only, bool synchronous_full, int busy_timeout_ms);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Rows query(std::string_view sql, const std::vector<Value>& params) override;
  std::int64_t execute(std::string_view sql, const std::vector<Value>& params) override;
  std::int64_t last_insert_id() override;
  // Runs a script of several statements (migrations, pragmas); no parameters.
  void exec_script(const std::string& sql);

  [[nodiscard]] sqlite3* handle() const { return db_; }

 private:
  sqlite3_stmt* prepare(std::string_view sql);
  void bind(sqlite3_stmt* stmt, const std::vector<Value>& params);
  [[noreturn]] void fail(int rc, std::string_view what);

  // Looked up by the SQL text without copying it (a std::string key per call
  // was one allocation per statement on the writer's path).
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view sql) const noexcept { return std::hash<std::string_view>{}(sql); }
  };
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*, SqlHash, std::equal_to<>> statements_;
};

}  // namespace villagebot::storage
