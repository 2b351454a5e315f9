#include "storage/backup.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "storage/connection.hpp"
#include "villagebot/storage.hpp"

namespace villagebot::storage {
namespace {

// Copies every page of `from` into `to` in one step; both are open connections.
std::int64_t copy_pages(sqlite3* from, sqlite3* to, const std::string& what) {
  sqlite3_backup* b = sqlite3_backup_init(to, "main", from, "main");
  if (b == nullptr) throw StorageError(what + ": " + sqlite3_errmsg(to));
  int rc = SQLITE_OK;
  // A busy or locked source (the server committing) is retried; the snapshot stays consistent.
  for (int tries = 0; tries < 600; ++tries) {
    rc = sqlite3_backup_step(b, -1);
    if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
    sqlite3_sleep(50);
  }
  const std::int64_t pages = sqlite3_backup_pagecount(b);
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) throw StorageError(what + ": " + sqlite3_errstr(rc));
  return pages;
}

// "ok", or what SQLite found wrong; and the number of tables.
std::string check(Connection& c, std::int64_t& tables) {
  const auto rows = c.query("PRAGMA integrity_check", {});
  std::string verdict = rows.empty() ? std::string("no answer") : rows[0].text(0);
  tables = c.query("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'", {})[0].integer(0);
  if (verdict == "ok" &&
      c.query("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'core_schema_versions'", {})[0]
              .integer(0) == 0)
    verdict = "not a villagebot database (no core_schema_versions table)";
  return verdict;
}

void fsync_path(const std::filesystem::path& p, int flags) {
  const int fd = ::open(p.c_str(), flags);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

BackupResult backup_database(const std::string& from, const std::filesystem::path& to) {
  if (!std::filesystem::exists(from)) throw StorageError("there is no database at " + from);
  const std::filesystem::path part = to.string() + ".part";
  std::error_code ec;
  std::filesystem::remove(part, ec);
  BackupResult r;
  {
    Connection source(from, true, true, 5000);
    Connection target(part.string(), false, true, 5000);
    r.pages = copy_pages(source.handle(), target.handle(), "backup of " + from);
    target.exec_script("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;");
    const std::string verdict = check(target, r.tables);
    if (verdict != "ok") {
      std::filesystem::remove(part, ec);
      throw StorageError("the copy of " + from + " failed its check: " + verdict);
    }
  }
  fsync_path(part, O_RDONLY);
  std::filesystem::rename(part, to, ec);
  if (ec) throw StorageError("cannot move the backup into " + to.string() + ": " + ec.message());
  fsync_path(to.parent_path().empty() ? std::filesystem::path(".") : to.parent_path(), O_RDONLY | O_DIRECTORY);
  r.bytes = static_cast<std::int64_t>(std::filesystem::file_size(to));
  return r;
}

BackupResult restore_database(const std::filesystem::path& from, const std::string& to) {
  if (!std::filesystem::exists(from)) throw StorageError("there is no backup at " + from.string());
  BackupResult r;
  Connection backup(from.string(), true, true, 5000);
  const std::string verdict = check(backup, r.tables);
  if (verdict != "ok") throw StorageError("the backup " + from.string() + " is not usable: " + verdict);
  Connection live(to, false, true, 5000);
  r.pages = copy_pages(backup.handle(), live.handle(), "restore into " + to);
  live.exec_script("PRAGMA wal_checkpoint(TRUNCATE);");
  r.bytes = static_cast<std::int64_t>(std::filesystem::file_size(to));
  return r;
}

ServerLock::ServerLock(const std::string& database_path) {
  const std::string path = database_path + ".lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw StorageError("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw StorageError("the database " + database_path + " is in use by a running villagebot server (" + path +
                       " is locked): stop it first (systemctl stop villagebot)");
  }
}

ServerLock::~ServerLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace villagebot::storage
