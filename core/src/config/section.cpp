#include "config/section.hpp"

#include <utility>

namespace villagebot::config {

TomlSection::TomlSection(toml::table* table, std::string path, std::string file,
                         std::shared_ptr<std::vector<std::string>> errors, std::shared_ptr<void> keep_alive)
    : table_(table),
      path_(std::move(path)),
      file_(std::move(file)),
      errors_(std::move(errors)),
      keep_alive_(std::move(keep_alive)) {}

TomlSection::~TomlSection() {
  report_unknown();
}

std::string TomlSection::full_key(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  if (key.empty()) return path_;
  return path_ + "." + std::string(key);
}

int TomlSection::line_of(std::string_view key) const {
  if (table_ == nullptr) return 0;
  if (!key.empty()) {
    if (const toml::node* n = table_->get(key)) return static_cast<int>(n->source().begin.line);
  }
  return static_cast<int>(table_->source().begin.line);
}

void TomlSection::error(std::string_view key, std::string_view message) {
  std::string line =
      file_ + ":" + std::to_string(line_of(key)) + ": key '" + full_key(key) + "': " + std::string(message);
  errors_->push_back(std::move(line));
}

bool TomlSection::has(std::string_view key) const {
  return table_ != nullptr && table_->contains(key);
}

toml::node* TomlSection::lookup(std::string_view key) {
  known_.insert(std::string(key));
  return table_ == nullptr ? nullptr : table_->get(key);
}

std::optional<std::string> TomlSection::string(std::string_view key) {
  toml::node* n = lookup(key);
  if (n == nullptr) return std::nullopt;
  if (auto v = n->value<std::string>(); v && n->is_string()) return *v;
  error(key, "must be a string");
  return std::nullopt;
}

std::optional<std::int64_t> TomlSection::integer(std::string_view key, std::int64_t min, std::int64_t max) {
  toml::node* n = lookup(key);
  if (n == nullptr) return std::nullopt;
  if (!n->is_integer()) {
    error(key, "must be an integer");
    return std::nullopt;
  }
  const std::int64_t v = n->as_integer()->get();
  if (v < min || v > max) {
    error(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", not " + std::to_string(v));
    return std::nullopt;
  }
  return v;
}

std::optional<double> TomlSection::number(std::string_view key) {
  toml::node* n = lookup(key);
  if (n == nullptr) return std::nullopt;
  if (n->is_floating_point()) return n->as_floating_point()->get();
  if (n->is_integer()) return static_cast<double>(n->as_integer()->get());
  error(key, "must be a number");
  return std::nullopt;
}

std::optional<bool> TomlSection::boolean(std::string_view key) {
  toml::node* n = lookup(key);
  if (n == nullptr) return std::nullopt;
  if (n->is_boolean()) return n->as_boolean()->get();
  error(key, "must be true or false");
  return std::nullopt;
}

std::optional<std::vector<std::string>> TomlSection::strings(std::string_view key) {
  toml::node* n = lookup(key);
  if (n == nullptr) return std::nullopt;
  const toml::array* arr = n->as_array();
  if (arr == nullptr) {
    error(key, "must be a list of strings, e.g. [\"a\", \"b\"]");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& item : *arr) {
    if (!item.is_string()) {
      error(key, "must be a list of strings, e.g. [\"a\", \"b\"]");
      return std::nullopt;
    }
    out.push_back(item.as_string()->get());
  }
  return out;
}

std::unique_ptr<ConfigSection> TomlSection::table(std::string_view key) {
  toml::node* n = lookup(key);
  if (n == nullptr) return nullptr;
  toml::table* t = n->as_table();
  if (t == nullptr) {
    error(key, "must be a table");
    return nullptr;
  }
  return std::make_unique<TomlSection>(t, full_key(key), file_, errors_, keep_alive_);
}

std::vector<std::unique_ptr<ConfigSection>> TomlSection::tables(std::string_view key) {
  std::vector<std::unique_ptr<ConfigSection>> out;
  toml::node* n = lookup(key);
  if (n == nullptr) return out;
  toml::array* arr = n->as_array();
  if (arr == nullptr || !arr->is_array_of_tables()) {
    error(key, "must be an array of tables ([[" + full_key(key) + "]])");
    return out;
  }
  std::size_t i = 0;
  for (auto& item : *arr) {
    out.push_back(std::make_unique<TomlSection>(item.as_table(), full_key(key) + "[" + std::to_string(i++) + "]", file_,
                                                errors_, keep_alive_));
  }
  return out;
}

void TomlSection::report_unknown() {
  if (reported_ || table_ == nullptr) return;
  reported_ = true;
  for (auto&& [k, v] : *table_) {
    if (known_.find(k.str()) != known_.end()) continue;
    errors_->push_back(file_ + ":" + std::to_string(k.source().begin.line) + ": key '" + full_key(k.str()) +
                       "': unknown key (check the spelling; see config/villagebot.example.toml)");
  }
}

}  // namespace villagebot::config
