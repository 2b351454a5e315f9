#include "storage/connection.hpp"

#include <sqlite3.h>

#include <string>

namespace villagebot::storage {

namespace {
// Resets and unbinds a cached statement however its use ends (a throw
// included), so that the cache hands out only idle statements and no bound
// pointer outlives the values it points into.
class StatementUse {
 public:
  explicit StatementUse(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StatementUse() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

std::string describe(sqlite3* db, int rc, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return msg;
}
}  // namespace

bool is_fault_code(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      return true;
    default:
      return false;
  }
}

Connection::Connection(const std::string& path, bool read_only, bool synchronous_full, int busy_timeout_ms) {
  const int flags =
      (read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = describe(db_, rc, "cannot open database " + path);
    sqlite3_close(db_);
    db_ = nullptr;
    throw StorageError(msg);
  }
  sqlite3_busy_timeout(db_, busy_timeout_ms);
  sqlite3_extended_result_codes(db_, 1);
  try {
    if (!read_only) {
      exec_script("PRAGMA journal_mode=WAL;");
      exec_script(synchronous_full ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;");
    }
    exec_script("PRAGMA foreign_keys=ON;");
  } catch (const StorageError& e) {
    // A constructor that throws runs no destructor: close here.
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw StorageError("cannot use database " + path + ": " + e.what() + " (is it a villagebot database?)");
  }
}

Connection::~Connection() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

void Connection::fail(int rc, std::string_view what) {
  const int primary = rc & 0xff;
  std::string msg = describe(db_, rc, what);
  if (primary == SQLITE_CONSTRAINT) throw ConstraintError(msg);
  if (is_fault_code(rc)) throw StorageFault(msg);
  throw StorageError(msg);
}

void Connection::exec_script(const std::string& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) throw ConstraintError(msg);
    if (is_fault_code(rc)) throw StorageFault(msg);
    throw StorageError(msg);
  }
}

sqlite3_stmt* Connection::prepare(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second;  // reset and unbound after its last use
  sqlite3_stmt* stmt = nullptr;
  const int rc =
      sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) fail(rc, "cannot prepare statement");
  if (stmt == nullptr) throw StorageError("empty SQL statement");
  statements_.emplace(std::string(sql), stmt);
  return stmt;
}

void Connection::bind(sqlite3_stmt* stmt, const std::vector<Value>& params) {
  if (static_cast<int>(params.size()) != sqlite3_bind_parameter_count(stmt))
    throw StorageError("statement expects " + std::to_string(sqlite3_bind_parameter_count(stmt)) + " parameters, got " +
                       std::to_string(params.size()));
  int i = 1;
  for (const Value& v : params) {
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::nullptr_t>(v)) {
      rc = sqlite3_bind_null(stmt, i);
    } else if (const auto* n = std::get_if<std::int64_t>(&v)) {
      rc = sqlite3_bind_int64(stmt, i, *n);
    } else if (const auto* d = std::get_if<double>(&v)) {
      rc = sqlite3_bind_double(stmt, i, *d);
    } else {
      const auto& s = std::get<std::string>(v);
      // Not copied: `params` outlives the statement's use, which ends with
      // reset and clear_bindings before query() or execute() returns.
      rc = sqlite3_bind_text64(stmt, i, s.data(), s.size(), SQLITE_STATIC, SQLITE_UTF8);
    }
    if (rc != SQLITE_OK) fail(rc, "cannot bind parameter");
    ++i;
  }
}

Rows Connection::query(std::string_view sql, const std::vector<Value>& params) {
  sqlite3_stmt* stmt = prepare(sql);
  const StatementUse use(stmt);
  bind(stmt, params);
  Rows rows;
  const int columns = sqlite3_column_count(stmt);
  for (;;) {
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) fail(rc, "query failed");
    std::vector<Value> values;
    values.reserve(static_cast<std::size_t>(columns));
    for (int c = 0; c < columns; ++c) {
      switch (sqlite3_column_type(stmt, c)) {
        case SQLITE_INTEGER:
          values.emplace_back(static_cast<std::int64_t>(sqlite3_column_int64(stmt, c)));
          break;
        case SQLITE_FLOAT:
          values.emplace_back(sqlite3_column_double(stmt, c));
          break;
        case SQLITE_NULL:
          values.emplace_back(nullptr);
          break;
        default: {
          const auto* p = sqlite3_column_text(stmt, c);
          const int n = sqlite3_column_bytes(stmt, c);
          values.emplace_back(std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n)));
        }
      }
    }
    rows.emplace_back(std::move(values));
  }
  return rows;
}

std::int64_t Connection::execute(std::string_view sql, const std::vector<Value>& params) {
  sqlite3_stmt* stmt = prepare(sql);
  const StatementUse use(stmt);
  bind(stmt, params);
  int rc = sqlite3_step(stmt);
  while (rc == SQLITE_ROW) rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE) fail(rc, "statement failed");
  return sqlite3_changes64(db_);
}

std::int64_t Connection::last_insert_id() {
  return sqlite3_last_insert_rowid(db_);
}

}  // namespace villagebot::storage
