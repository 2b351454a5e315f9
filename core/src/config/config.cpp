#include "config/config.hpp"

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "config/section.hpp"
#include "delivery/cron.hpp"

namespace villagebot::config {

namespace {

struct Document {
  toml::table root;
};

// [A-Za-z_][A-Za-z0-9_]*, by hand: std::regex recurses once per character and overflows the stack
// on a long name (tests/fuzz/regressions/config/env-name-regex-stack-overflow).
bool valid_env_name(std::string_view name) {
  const auto letter = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (name.empty() || !letter(name.front())) return false;
  for (char c : name)
    if (!letter(c) && !(c >= '0' && c <= '9')) return false;
  return true;
}

// Replaces ${NAME} and ${NAME:-default} in every string value. An unset
// variable without a default is an error: a misspelt secret name must not
// silently turn signature checks off.
// Tables and arrays nest this deep at most: a config needs a few levels, and thousands (a.a.a… = 1)
// would overflow the stack here (tests/fuzz/regressions/config/dotted-keys-nested-too-deep).
constexpr int kMaxNesting = 32;

void substitute_env(toml::node& node, const std::string& file, const std::string& key_path,
                    std::vector<std::string>& errors, int depth = 0) {
  if (depth > kMaxNesting && (node.is_table() || node.is_array())) {
    errors.push_back(file + ":" + std::to_string(node.source().begin.line) + ": key '" + key_path +
                     "': tables and arrays nested more than " + std::to_string(kMaxNesting) + " deep");
    return;
  }
  if (auto* t = node.as_table()) {
    for (auto&& [k, v] : *t)
      substitute_env(v, file, key_path.empty() ? std::string(k.str()) : key_path + "." + std::string(k.str()), errors,
                     depth + 1);
    return;
  }
  if (auto* a = node.as_array()) {
    std::size_t i = 0;
    for (auto& v : *a) substitute_env(v, file, key_path + "[" + std::to_string(i++) + "]", errors, depth + 1);
    return;
  }
  auto* s = node.as_string();
  if (s == nullptr) return;
  const std::string& in = s->get();
  if (in.find("${") == std::string::npos) return;
  std::string out;
  std::size_t pos = 0;
  while (pos < in.size()) {
    const std::size_t start = in.find("${", pos);
    if (start == std::string::npos) {
      out.append(in, pos);
      break;
    }
    out.append(in, pos, start - pos);
    const std::size_t end = in.find('}', start);
    const auto line = std::to_string(node.source().begin.line);
    if (end == std::string::npos) {
      errors.push_back(file + ":" + line + ": key '" + key_path + "': unterminated ${ in value");
      return;
    }
    std::string name = in.substr(start + 2, end - start - 2);
    std::optional<std::string> fallback;
    if (auto d = name.find(":-"); d != std::string::npos) {
      fallback = name.substr(d + 2);
      name = name.substr(0, d);
    }
    if (!valid_env_name(name)) {
      errors.push_back(file + ":" + line + ": key '" + key_path + "': '${" + name +
                       "}' is not a valid environment variable name");
      return;
    }
    const char* value = std::getenv(name.c_str());
    if (fallback && (value == nullptr || *value == '\0')) {
      out += *fallback;  // as in the shell: ${X:-d} also replaces an empty X
    } else if (value != nullptr) {
      out += value;
    } else {
      errors.push_back(file + ":" + line + ": key '" + key_path + "': environment variable " + name +
                       " is not set (export it, or write ${" + name + ":-default})");
      return;
    }
    pos = end + 1;
  }
  s->get() = out;
}

bool parse_listen(const std::string& listen, std::string& host, std::uint16_t& port) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string p = listen.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  const long n = std::stol(p);
  if (n > 65535) return false;
  port = static_cast<std::uint16_t>(n);
  return true;
}

void read_core(Config& cfg, toml::table& root, const std::shared_ptr<Document>& doc) {
  TomlSection top(&root, "", cfg.file, cfg.errors, doc);
  if (auto village = top.table("village")) {
    cfg.village_name = village->string_or("name", cfg.village_name);
    cfg.timezone = village->string_or("timezone", cfg.timezone);
    try {
      (void)delivery::parse_utc_offset(cfg.timezone);
    } catch (const std::invalid_argument& e) {
      village->error("timezone", e.what());
    }
  }
  if (auto logging = top.table("logging")) {
    cfg.log_level = logging->string_or("level", cfg.log_level);
    static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "critical", "off"};
    if (!levels.contains(cfg.log_level)) logging->error("level", "must be one of trace, debug, info, warn, error, off");
  }
  if (auto server = top.table("server")) {
    auto& s = cfg.server;
    if (auto listen = server->string("listen")) {
      if (!parse_listen(*listen, s.host, s.port))
        server->error("listen", "must be host:port, e.g. \"127.0.0.1:8080\" (port 0 picks a free port)");
    }
    s.threads = static_cast<int>(server->integer_or("threads", s.threads, 1, 64));
    s.body_limit = static_cast<std::size_t>(
        server->integer_or("body_limit", static_cast<std::int64_t>(s.body_limit), 1024, 64LL << 20));
    s.header_timeout =
        std::chrono::milliseconds(server->integer_or("header_timeout_ms", s.header_timeout.count(), 100, 600000));
    s.body_timeout =
        std::chrono::milliseconds(server->integer_or("body_timeout_ms", s.body_timeout.count(), 100, 600000));
    s.idle_timeout =
        std::chrono::milliseconds(server->integer_or("idle_timeout_ms", s.idle_timeout.count(), 100, 3600000));
    s.max_connections = static_cast<std::size_t>(
        server->integer_or("max_connections", static_cast<std::int64_t>(s.max_connections), 1, 100000));
    s.shutdown_grace =
        std::chrono::milliseconds(server->integer_or("shutdown_grace_ms", s.shutdown_grace.count(), 0, 600000));
    s.public_base_url = server->string_or("public_base_url", "");
  }
  if (auto storage = top.table("storage")) {
    cfg.storage.path = storage->string_or("path", cfg.storage.path);
    if (cfg.storage.path.empty()) storage->error("path", "must not be empty");
    const auto sync = storage->string_or("synchronous", "full");
    if (sync == "full") {
      cfg.storage.synchronous_full = true;
    } else if (sync == "normal") {
      cfg.storage.synchronous_full = false;
    } else {
      storage->error("synchronous", "must be \"full\" (survives power loss) or \"normal\"");
    }
  }
  if (auto pipeline = top.table("pipeline")) {
    auto& p = cfg.pipeline;
    p.workers = static_cast<int>(pipeline->integer_or("workers", p.workers, 1, 256));
    p.handler_timeout =
        std::chrono::milliseconds(pipeline->integer_or("handler_timeout_ms", p.handler_timeout.count(), 10, 600000));
    p.rate_limit_messages =
        static_cast<int>(pipeline->integer_or("rate_limit_messages", p.rate_limit_messages, 0, 100000));
    p.rate_limit_window =
        std::chrono::seconds(pipeline->integer_or("rate_limit_window_s", p.rate_limit_window.count(), 1, 86400));
    p.prompt_timeout =
        std::chrono::seconds(pipeline->integer_or("prompt_timeout_s", p.prompt_timeout.count(), 1, 86400));
    if (auto names = pipeline->strings("bot_names")) p.bot_names = *names;
  }
  auto plugins_table = root["plugins"].as_table();
  if (root.contains("plugins") && plugins_table == nullptr) top.error("plugins", "must be a table");
  top.mark_known("plugins");
  if (plugins_table != nullptr) {
    TomlSection plugins(plugins_table, "plugins", cfg.file, cfg.errors, doc);
    cfg.plugin_dir = plugins.string_or("dir", cfg.plugin_dir);
    if (auto enabled = plugins.strings("enabled")) cfg.plugins_enabled = *enabled;
    std::set<std::string> seen;
    for (const auto& name : cfg.plugins_enabled) {
      if (!seen.insert(name).second) plugins.error("enabled", "names plugin '" + name + "' twice");
    }
    for (auto&& [k, v] : *plugins_table) {
      const std::string name(k.str());
      if (name == "dir" || name == "enabled") continue;
      plugins.mark_known(name);
      if (!v.is_table()) {
        plugins.error(name, "must be a table [plugins." + name + "] or one of dir, enabled");
        continue;
      }
      if (!seen.contains(name)) {
        plugins.error(name, "configures plugin '" + name + "', which is not in plugins.enabled");
        continue;
      }
    }
    for (const auto& name : cfg.plugins_enabled) {
      plugins.mark_known(name);
      if (!plugins_table->contains(name)) plugins_table->insert(name, toml::table{});
      cfg.plugin_sections[name] = std::make_shared<TomlSection>(plugins_table->get(name)->as_table(), "plugins." + name,
                                                                cfg.file, cfg.errors, doc);
    }
  }
  if (auto client = top.table("http_client")) {
    auto& h = cfg.http_client;
    h.ca_file = client->string_or("ca_file", "");
    h.https_proxy = client->string_or("https_proxy", "");
    h.no_proxy = client->string_or("no_proxy", "");
    if (!h.https_proxy.empty() && h.https_proxy != "none" && !h.https_proxy.starts_with("http://"))
      client->error("https_proxy", "must be \"http://host:port\" (or \"none\")");
  }
  if (auto delivery = top.table("delivery")) {
    auto& d = cfg.delivery;
    d.quiet_hours = delivery->string_or("quiet_hours", d.quiet_hours);
    try {
      (void)delivery::DailyWindow::parse(d.quiet_hours);
    } catch (const std::invalid_argument& e) {
      delivery->error("quiet_hours", e.what());
    }
    d.max_attempts = static_cast<int>(delivery->integer_or("max_attempts", d.max_attempts, 1, 100));
    d.retry_base = std::chrono::milliseconds(delivery->integer_or("retry_base_ms", d.retry_base.count(), 1, 3'600'000));
    d.retry_max = std::chrono::milliseconds(delivery->integer_or("retry_max_ms", d.retry_max.count(), 1, 86'400'000));
    d.gateway_retry =
        std::chrono::milliseconds(delivery->integer_or("gateway_retry_ms", d.gateway_retry.count(), 100, 3'600'000));
    d.expire_after =
        std::chrono::seconds(delivery->integer_or("expire_after_s", d.expire_after.count(), 1, 30 * 86400));
  }
  top.mark_known("adapters");
  if (toml::node* adapters = root.get("adapters")) {
    toml::array* arr = adapters->as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
      top.error("adapters", "must be written as [[adapters]] tables");
    } else {
      std::set<std::string> ids;
      std::size_t i = 0;
      static const std::regex id_re("[a-z0-9][a-z0-9_-]{0,62}");
      for (auto& item : *arr) {
        auto section = std::make_shared<TomlSection>(item.as_table(), "adapters[" + std::to_string(i++) + "]", cfg.file,
                                                     cfg.errors, doc);
        AdapterEntry entry;
        entry.id = section->require_string("id");
        entry.type = section->require_string("type");
        entry.line = section->line_of("");
        auto& d = entry.delivery;
        d.rate_per_minute = static_cast<int>(section->integer_or("rate_per_minute", d.rate_per_minute, 0, 6'000'000));
        d.burst = static_cast<int>(section->integer_or("burst", d.burst, 1, 100000));
        d.concurrency = static_cast<int>(section->integer_or("concurrency", d.concurrency, 1, 256));
        if (auto cost = section->number("cost_per_segment")) {
          if (*cost < 0 || *cost > 100)
            section->error("cost_per_segment", "must be between 0 and 100 (the price of one SMS segment)");
          else
            d.cost_per_segment = *cost;
        }
        if (!entry.id.empty() && !std::regex_match(entry.id, id_re))
          section->error("id", "must be lower-case letters, digits, '-' or '_' (it becomes the route /hooks/<id>)");
        if (!entry.id.empty() && !ids.insert(entry.id).second) section->error("id", "'" + entry.id + "' is used twice");
        entry.section = section;
        cfg.adapters.push_back(std::move(entry));
      }
    }
  }
}

Config finish(Config cfg, const std::shared_ptr<Document>& doc) {
  std::vector<std::string> env_errors;
  substitute_env(doc->root, cfg.file, "", env_errors);
  cfg.errors->insert(cfg.errors->end(), env_errors.begin(), env_errors.end());
  read_core(cfg, doc->root, doc);
  cfg.document = doc;
  return cfg;
}

}  // namespace

Config load_string(const std::string& toml_text, const std::string& file_name) {
  Config cfg;
  cfg.file = file_name;
  auto doc = std::make_shared<Document>();
  try {
    doc->root = toml::parse(toml_text, file_name);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << file_name << ":" << e.source().begin.line << ": " << e.description();
    cfg.errors->push_back(msg.str());
    return cfg;
  }
  return finish(std::move(cfg), doc);
}

Config load(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    Config cfg;
    cfg.file = file;
    cfg.errors->push_back(file + ": cannot read the config file (does it exist? see config/villagebot.example.toml)");
    return cfg;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return load_string(text.str(), file);
}

AdapterEntry synthetic_adapter(Config& config, const std::string& id, const std::string& type,
                               const std::vector<std::pair<std::string, std::string>>& values) {
  auto doc = std::make_shared<Document>();
  doc->root.insert("id", id);
  doc->root.insert("type", type);
  for (const auto& [k, v] : values) doc->root.insert(k, v);
  AdapterEntry entry;
  entry.id = id;
  entry.type = type;
  auto section = std::make_shared<TomlSection>(&doc->root, "adapters." + id, "(command line)", config.errors, doc);
  section->mark_known("id");
  section->mark_known("type");
  entry.section = section;
  return entry;
}

void finish_section(ConfigSection& section) {
  if (auto* toml_section = dynamic_cast<TomlSection*>(&section)) toml_section->report_unknown();
}

}  // namespace villagebot::config
