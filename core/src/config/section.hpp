#pragma once
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "villagebot/config.hpp"

namespace villagebot::config {

// A ConfigSection over one toml++ table. Remembers which keys were read so the
// rest can be reported as unknown.
class TomlSection final : public ConfigSection {
 public:
  TomlSection(toml::table* table, std::string path, std::string file, std::shared_ptr<std::vector<std::string>> errors,
              std::shared_ptr<void> keep_alive);
  ~TomlSection() override;

  [[nodiscard]] std::string path() const override { return path_; }
  [[nodiscard]] bool has(std::string_view key) const override;
  std::optional<std::string> string(std::string_view key) override;
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max) override;
  std::optional<double> number(std::string_view key) override;
  std::optional<bool> boolean(std::string_view key) override;
  std::optional<std::vector<std::string>> strings(std::string_view key) override;
  std::unique_ptr<ConfigSection> table(std::string_view key) override;
  std::vector<std::unique_ptr<ConfigSection>> tables(std::string_view key) override;
  void error(std::string_view key, std::string_view message) override;
  [[nodiscard]] bool has_errors() const override { return !errors_->empty(); }

  // Marks a key as handled by someone else (e.g. the core's id and type).
  void mark_known(std::string_view key) { known_.insert(std::string(key)); }
  void report_unknown();
  [[nodiscard]] int line_of(std::string_view key) const;

 private:
  toml::node* lookup(std::string_view key);
  std::string full_key(std::string_view key) const;

  toml::table* table_;
  std::string path_;
  std::string file_;
  std::shared_ptr<std::vector<std::string>> errors_;
  std::shared_ptr<void> keep_alive_;
  std::set<std::string, std::less<>> known_;
  bool reported_ = false;
};

}  // namespace villagebot::config
