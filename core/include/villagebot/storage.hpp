#pragma once
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace villagebot {

// A portable SQL value. Plugins write portable SQL with `?` placeholders; the
// backend (SQLite now) binds these, so another backend can be added later
// without touching plugins.
using Value = std::variant<std::nullptr_t, std::int64_t, double, std::string>;

class Row {
 public:
  Row() = default;
  explicit Row(std::vector<Value> values) : values_(std::move(values)) {}
  [[nodiscard]] std::size_t size() const { return values_.size(); }
  [[nodiscard]] bool is_null(std::size_t i) const { return std::holds_alternative<std::nullptr_t>(values_.at(i)); }
  [[nodiscard]] std::int64_t integer(std::size_t i) const {
    const Value& v = values_.at(i);
    if (const auto* n = std::get_if<std::int64_t>(&v)) return *n;
    if (const auto* d = std::get_if<double>(&v)) return static_cast<std::int64_t>(*d);
    return 0;
  }
  [[nodiscard]] double real(std::size_t i) const {
    const Value& v = values_.at(i);
    if (const auto* d = std::get_if<double>(&v)) return *d;
    if (const auto* n = std::get_if<std::int64_t>(&v)) return static_cast<double>(*n);
    return 0.0;
  }
  [[nodiscard]] std::string text(std::size_t i) const {
    const Value& v = values_.at(i);
    if (const auto* s = std::get_if<std::string>(&v)) return *s;
    if (const auto* n = std::get_if<std::int64_t>(&v)) return std::to_string(*n);
    return {};
  }
  [[nodiscard]] const Value& value(std::size_t i) const { return values_.at(i); }

 private:
  std::vector<Value> values_;
};

using Rows = std::vector<Row>;

class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A unique or foreign-key constraint refused the statement.
class ConstraintError : public StorageError {
 public:
  using StorageError::StorageError;
};

// One connection inside one transaction. Never kept beyond the callback.
class Session {
 public:
  virtual ~Session() = default;
  virtual Rows query(std::string_view sql, const std::vector<Value>& params = {}) = 0;
  // Returns the number of rows changed.
  virtual std::int64_t execute(std::string_view sql, const std::vector<Value>& params = {}) = 0;
  virtual std::int64_t last_insert_id() = 0;
};

struct Migration {
  int version;      // 1, 2, 3 ... in order
  std::string sql;  // one or more statements
};

// Storage with one writer. `write` work runs on the writer thread, batched with
// other writes into one durable commit (group commit); `read` runs on the
// caller's thread on a read-only connection of its own. Neither may be called
// from a network thread.
class Storage {
 public:
  virtual ~Storage() = default;

  // Applies the module's migrations newer than the database's, in one
  // transaction. Refuses a database whose version for the module is newer
  // than the newest migration given (a downgrade).
  virtual void migrate(std::string_view module, const std::vector<Migration>& migrations) = 0;

  // Blocks until the work is committed durably; rethrows its exception (the
  // work's changes are then rolled back, other batched work is unaffected).
  virtual void write_sync(const std::function<void(Session&)>& work) = 0;
  // Completion runs on the writer thread after the commit: keep it short.
  virtual void write_async(std::function<void(Session&)> work, std::function<void(std::exception_ptr)> done) = 0;
  // Like write_async, but `executed` runs (on the writer thread) as soon as
  // the work has run inside the still-open transaction, before the commit;
  // `done` still runs after the commit. Lets the caller overlap its next step
  // with the fsync. A backend without the distinction calls both after it.
  virtual void write_async_pipelined(std::function<void(Session&)> work, std::function<void()> executed,
                                     std::function<void(std::exception_ptr)> done) {
    write_async(std::move(work), [executed = std::move(executed), done = std::move(done)](std::exception_ptr e) {
      if (!e && executed) executed();
      if (done) done(e);
    });
  }
  virtual void read_sync(const std::function<void(Session&)>& work) = 0;

  template <class F>
  auto write(F&& f) -> std::invoke_result_t<F, Session&> {
    using R = std::invoke_result_t<F, Session&>;
    if constexpr (std::is_void_v<R>) {
      write_sync([&](Session& s) { f(s); });
    } else {
      R result{};
      write_sync([&](Session& s) { result = f(s); });
      return result;
    }
  }
  template <class F>
  auto read(F&& f) -> std::invoke_result_t<F, Session&> {
    using R = std::invoke_result_t<F, Session&>;
    if constexpr (std::is_void_v<R>) {
      read_sync([&](Session& s) { f(s); });
    } else {
      R result{};
      read_sync([&](Session& s) { result = f(s); });
      return result;
    }
  }
};

}  // namespace villagebot
