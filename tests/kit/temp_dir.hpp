#pragma once
// A temporary folder that removes itself: for tests that open real SQLite files.
#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace villagebot::testkit {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "villagebot") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace villagebot::testkit
