#pragma once
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace villagebot {

// One table of the TOML config, handed to the module that owns it. Reading a
// key marks it known; keys nobody read are reported as unknown. Type and range
// errors are recorded with file, line and key; the readers then return nullopt.
class ConfigSection {
 public:
  virtual ~ConfigSection() = default;
  [[nodiscard]] virtual std::string path() const = 0;  // e.g. "plugins.points"
  [[nodiscard]] virtual bool has(std::string_view key) const = 0;
  virtual std::optional<std::string> string(std::string_view key) = 0;
  virtual std::optional<std::int64_t> integer(std::string_view key,
                                              std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                                              std::int64_t max = std::numeric_limits<std::int64_t>::max()) = 0;
  virtual std::optional<double> number(std::string_view key) = 0;
  virtual std::optional<bool> boolean(std::string_view key) = 0;
  virtual std::optional<std::vector<std::string>> strings(std::string_view key) = 0;
  virtual std::unique_ptr<ConfigSection> table(std::string_view key) = 0;                // nullptr if absent
  virtual std::vector<std::unique_ptr<ConfigSection>> tables(std::string_view key) = 0;  // [[key]] arrays
  // Records a validation error for `key` (or for the section itself when empty).
  virtual void error(std::string_view key, std::string_view message) = 0;
  [[nodiscard]] virtual bool has_errors() const = 0;

  std::string string_or(std::string_view key, std::string fallback) {
    return string(key).value_or(std::move(fallback));
  }
  std::int64_t integer_or(std::string_view key, std::int64_t fallback,
                          std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                          std::int64_t max = std::numeric_limits<std::int64_t>::max()) {
    return integer(key, min, max).value_or(fallback);
  }
  bool boolean_or(std::string_view key, bool fallback) { return boolean(key).value_or(fallback); }
  std::string require_string(std::string_view key) {
    auto v = string(key);
    if (!v && !has(key)) error(key, "is required");
    return v.value_or("");
  }
};

}  // namespace villagebot
