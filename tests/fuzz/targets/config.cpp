// Fuzz target: the config file (core/src/config/config.hpp, section.hpp): config::load_string on the
// bytes as TOML (${ENV} substitution, the core's sections and their ranges, [plugins], [[adapters]]),
// then what the server does with the sections it hands out: typed reads of a plugin's and an
// adapter's keys (strings, integers with ranges, numbers, booleans, lists, tables, [[tables]]) and
// finish_section, which reports the keys nobody read.
// Invariants: nothing throws (load_string promises it: problems land in Config::errors); every
// error names the file and a line and reads as valid UTF-8; a config without errors has every core
// value in its documented range and adapter ids that are unique and route-safe; a typed read that
// fails records an error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "villagebot/text.hpp"

#include "fuzz_support.hpp"

namespace config = villagebot::config;
using villagebot::ConfigSection;

namespace {

using villagebot::fuzz::check;

constexpr std::string_view kFile = "fuzz.toml";

// A plugin's or an adapter's reads, the way the modules read their sections.
void read_section(ConfigSection& s, const std::shared_ptr<std::vector<std::string>>& errors, int depth) {
  const auto count = [&] { return errors->size(); };
  for (const char* key : {"name", "url", "secret", "token", "evening_reminder", "red_list_cron", "code", "body"}) {
    const std::size_t before = count();
    const auto v = s.string(key);
    check(v.has_value() || !s.has(key) || count() > before);
  }
  for (const char* key : {"horizon_days", "capacity", "points", "timeout_ms", "sla_hours", "port"}) {
    const std::size_t before = count();
    const auto v = s.integer(key, 0, 1000);
    check((v && *v >= 0 && *v <= 1000) || (!v && (!s.has(key) || count() > before)));
  }
  (void)s.integer_or("stock", 7);
  for (const char* key : {"price", "cost_per_segment"}) (void)s.number(key);
  for (const char* key : {"auto_approve", "status_reports", "enabled"}) (void)s.boolean_or(key, false);
  for (const char* key : {"keywords", "roles", "days", "to"}) {
    if (const auto list = s.strings(key))
      for (const auto& item : *list) check(villagebot::text::valid_utf8(item));
  }
  (void)s.require_string("type");
  if (depth >= 2) return;
  if (auto t = s.table("options")) {
    read_section(*t, errors, depth + 1);
    config::finish_section(*t);
  }
  for (const char* key : {"posts", "templates", "rules", "items", "escalation", "teams", "categories"}) {
    for (auto& t : s.tables(key)) {
      read_section(*t, errors, depth + 1);
      config::finish_section(*t);
    }
  }
  s.error("", "checked by the fuzz target");
  (void)s.has_errors();
}

void check_errors(const std::vector<std::string>& errors) {
  for (const auto& e : errors) {
    check(e.starts_with(std::string(kFile) + ":"));
    check(villagebot::text::valid_utf8(e));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  config::Config cfg = config::load_string(text, std::string(kFile));
  check(cfg.file == kFile && cfg.errors != nullptr);
  check_errors(*cfg.errors);
  if (cfg.ok()) {
    const auto& s = cfg.server;
    check(s.threads >= 1 && s.threads <= 64 && s.body_limit >= 1024 && s.body_limit <= (64u << 20));
    check(s.max_connections >= 1 && s.max_connections <= 100000);
    check(cfg.pipeline.workers >= 1 && cfg.pipeline.workers <= 256);
    check(cfg.delivery.max_attempts >= 1 && cfg.delivery.max_attempts <= 100);
    check(!cfg.storage.path.empty());
    std::set<std::string> ids;
    for (const auto& a : cfg.adapters) {
      check(!a.id.empty() && ids.insert(a.id).second && a.section != nullptr);
      for (char c : a.id) check((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_');
      check(a.delivery.concurrency >= 1 && a.delivery.concurrency <= 256 && a.delivery.burst >= 1);
      check(a.delivery.cost_per_segment >= 0 && a.delivery.cost_per_segment <= 100);
    }
    check(cfg.plugin_sections.size() == cfg.plugins_enabled.size());
  }
  // The modules' reads, as the runtime hands the sections out.
  for (auto& [name, section] : cfg.plugin_sections) {
    check(section != nullptr && section->path() == "plugins." + name);
    read_section(*section, cfg.errors, 0);
    config::finish_section(*section);
  }
  for (auto& a : cfg.adapters) {
    read_section(*a.section, cfg.errors, 0);
    config::finish_section(*a.section);
  }
  check_errors(*cfg.errors);
  return 0;
}
