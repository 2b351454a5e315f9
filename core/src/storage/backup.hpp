#pragma once
// `villagebot backup FILE` and `villagebot restore FILE` (issue 13): SQLite's online backup API,
// so a backup can be taken while the server runs and writes (a consistent snapshot, never a
// half-written copy), and a restore replaces the database only with a copy that passes SQLite's
// integrity check, never while a server holds the database.
#include <cstdint>
#include <filesystem>
#include <string>

namespace villagebot::storage {

struct BackupResult {
  std::int64_t bytes = 0;
  std::int64_t pages = 0;
  std::int64_t tables = 0;
};

// Copies the database at `from` to `to` (written to "<to>.part", checked with PRAGMA
// integrity_check, fsynced, then renamed into place). Throws StorageError with the reason.
BackupResult backup_database(const std::string& from, const std::filesystem::path& to);

// Checks the backup at `from` (integrity, a villagebot database), then copies it over the
// database at `to`. The caller holds the server lock (ServerLock) of `to`.
BackupResult restore_database(const std::filesystem::path& from, const std::string& to);

// An exclusive lock on "<database>.lock" (flock): held by `serve` for its lifetime and by
// `restore`, so that neither runs while the other does and two servers never share a database.
class ServerLock {
 public:
  // Throws StorageError naming the holder's purpose when the lock is taken.
  explicit ServerLock(const std::string& database_path);
  ~ServerLock();
  ServerLock(const ServerLock&) = delete;
  ServerLock& operator=(const ServerLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace villagebot::storage
