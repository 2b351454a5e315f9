// villagebot: the command line of PRODUCT.md §5.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include <unistd.h>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "delivery/engine.hpp"
#include "directory/audit.hpp"
#include "directory/people_export.hpp"
#include "directory/people_import.hpp"
#include "directory/sqlite_directory.hpp"
#include "loader/module_loader.hpp"
#include "runtime/runtime.hpp"
#include "runtime/tokens.hpp"
#include "storage/backup.hpp"
#include "support/logging.hpp"
#include "support/metrics.hpp"
#include "villagebot/text.hpp"

namespace {

using namespace villagebot;

constexpr int kExitConfig = 2;
constexpr int kExitStartup = 1;

std::string config_path(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* env = std::getenv("VILLAGEBOT_CONFIG"); env != nullptr) return env;
  return {};
}

// Returns the loaded config, or prints every error and returns nullopt.
std::optional<config::Config> load_config(const std::string& given) {
  const std::string path = config_path(given);
  if (path.empty()) {
    std::cerr << "villagebot: no config file: pass --config FILE or set VILLAGEBOT_CONFIG\n";
    return std::nullopt;
  }
  auto cfg = config::load(path);
  if (!cfg.ok()) {
    for (const auto& e : *cfg.errors) std::cerr << e << "\n";
    return std::nullopt;
  }
  return cfg;
}

// SIGINT/SIGTERM are blocked in every thread and taken here, so shutdown runs
// as ordinary code rather than inside a signal handler.
sigset_t shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

int run_runtime(config::Config cfg, runtime::RuntimeOptions options, bool print_ready) {
  support::setup_logging(cfg.log_level);
  sigset_t set = shutdown_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  runtime::Runtime rt(std::move(cfg), std::move(options));
  try {
    rt.start();
  } catch (const loader::StartupError& e) {
    std::cerr << "villagebot: cannot start: " << e.what() << "\n";
    return kExitStartup;
  } catch (const std::exception& e) {
    std::cerr << "villagebot: cannot start: " << e.what() << "\n";
    return kExitStartup;
  }
  if (print_ready) {
    std::cout << "villagebot listening on http://" << rt.config().server.host << ":" << rt.port() << std::endl;
  }
  std::thread signals([&rt, set] {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig != 0) spdlog::info("signal {} received: shutting down", sig);
    rt.request_shutdown();
  });
  rt.wait();
  rt.stop();
  // Wake the signal thread if the shutdown came from elsewhere (console EOF).
  pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  spdlog::info("stopped cleanly");
  return 0;
}

int cmd_config_check(const std::string& file) {
  auto cfg = config::load(file);
  if (cfg.document) {
    // Modules validate their own sections: load them without starting. Done
    // even when the core keys have errors, so that every error is printed.
    try {
      support::setup_logging("error");
      for (const auto& entry : cfg.adapters) {
        if (entry.type.empty()) continue;
        auto a = loader::load_adapter(cfg.plugin_dir, entry.type);
        a.instance->configure(*entry.section);
        config::finish_section(*entry.section);
      }
      auto plugins = loader::load_plugins(cfg.plugin_dir, cfg.plugins_enabled);
      for (auto& p : plugins) {
        auto& section = *cfg.plugin_sections.at(p.name);
        p.instance->configure(section);
        config::finish_section(section);
      }
    } catch (const std::exception& e) {
      cfg.errors->push_back(file + ": " + e.what());
    }
  }
  if (cfg.ok()) {
    std::cout << "OK\n";
    return 0;
  }
  for (const auto& e : *cfg.errors) std::cout << e << "\n";
  std::cout << cfg.errors->size() << " error(s)\n";
  return kExitConfig;
}

// A progress bar on stderr while a large import applies, only when a person watches.
std::function<void(std::size_t, std::size_t)> progress_bar() {
  if (!isatty(STDOUT_FILENO) || !isatty(STDERR_FILENO)) return {};
  return [](std::size_t done, std::size_t total) {
    if (total < 2000) return;
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * done / total);
    std::cerr << "\r[" << std::string(static_cast<std::size_t>(filled), '#')
              << std::string(static_cast<std::size_t>(kWidth - filled), ' ') << "] " << done << "/" << total
              << (done == total ? "\n" : "") << std::flush;
  };
}

int cmd_import_people(const std::string& file, const std::string& config_file, bool dry_run, bool skip_bad) {
  auto cfg = load_config(config_file);
  if (!cfg) return kExitConfig;
  support::setup_logging("warn");
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::cerr << "villagebot: cannot read " << file << "\n";
    return 1;
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  auto storage = runtime::open_storage(*cfg);
  directory::ImportOptions options;
  options.dry_run = dry_run;
  options.skip_bad = skip_bad;
  options.actor = directory::audit::cli_actor();
  options.progress = progress_bar();
  const auto report = directory::import_people(*storage, bytes.str(), options);
  for (const auto& p : report.problems) {
    std::cout << file;
    if (p.line > 0) std::cout << ": 第 " << p.line << " 行 / line " << p.line;
    std::cout << (p.column.empty() ? "" : ", " + p.column) << ": " << p.reason << "\n";
  }
  if (dry_run || report.changes <= 50) {
    for (const auto& line : report.change_lines) std::cout << line << "\n";
    if (report.changes > report.change_lines.size())
      std::cout << "… " << report.changes - report.change_lines.size() << " more changes\n";
  }
  const char* outcome = dry_run                   ? "dry run (nothing written): "
                        : report.applied          ? "imported: "
                        : report.problems.empty() ? "no changes: "
                                                  : "NOT imported: ";
  std::cout << outcome << report.rows << " rows; persons +" << report.persons_created << " ~" << report.persons_updated
            << "; households +" << report.households_created << " ~" << report.households_updated << "; org units +"
            << report.org_units_created << "; " << report.changes << " records "
            << (dry_run          ? "would change"
                : report.applied ? "changed"
                                 : "changed")
            << "\n";
  if (!report.problems.empty() && !report.applied && !dry_run) return 1;
  if (skip_bad && report.applied) return 0;  // the good rows are in; the bad ones were listed above
  return report.problems.empty() ? 0 : 1;
}

int cmd_export_people(const std::string& config_file, const std::string& out_file, const std::string& headers) {
  auto cfg = load_config(config_file);
  if (!cfg) return kExitConfig;
  support::setup_logging("warn");
  if (!headers.empty() && headers != "en" && headers != "zh") {
    std::cerr << "villagebot: --headers is zh (default) or en\n";
    return kExitConfig;
  }
  auto storage = runtime::open_storage(*cfg);
  directory::ExportOptions options;
  options.english_headers = headers == "en";
  const std::string csv = directory::export_people(*storage, options);
  if (out_file.empty() || out_file == "-") {
    std::cout << csv << std::flush;
    return 0;
  }
  std::ofstream out(out_file, std::ios::binary | std::ios::trunc);
  out << csv;
  out.close();
  if (!out) {
    std::cerr << "villagebot: cannot write " << out_file << "\n";
    return 1;
  }
  std::cerr << "exported to " << out_file << " (UTF-8 with BOM)\n";
  return 0;
}

int cmd_token_create(const std::string& name, const std::string& role, const std::string& person_phone,
                     const std::string& config_file) {
  auto cfg = load_config(config_file);
  if (!cfg) return kExitConfig;
  support::setup_logging("warn");
  auto storage = runtime::open_storage(*cfg);
  runtime::TokenStore tokens(*storage);
  std::optional<std::int64_t> person;
  if (!person_phone.empty()) {
    directory::SqliteDirectory dir(*storage);
    auto p = dir.find_by_phone(person_phone);
    if (!p) {
      std::cerr << "villagebot: no person with the phone " << person_phone << " (import people first)\n";
      return 1;
    }
    person = p->id;
  }
  const auto actor = directory::audit::cli_actor();
  try {
    std::cout << tokens.create(name, role, person, &actor) << "\n";
  } catch (const std::invalid_argument& e) {
    std::cerr << "villagebot: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "This token is shown only once; store it safely.\n";
  return 0;
}

// villagebot backup FILE: an online backup (the server may keep running).
int cmd_backup(const std::string& config_file, const std::string& file) {
  auto cfg = load_config(config_file);
  if (!cfg) return kExitConfig;
  try {
    const auto r = storage::backup_database(cfg->storage.path, file);
    std::cout << "备份完成 / backed up: " << cfg->storage.path << " → " << file << " (" << r.bytes << " bytes, "
              << r.tables << " tables, integrity ok)\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "villagebot: backup failed: " << e.what() << "\n";
    return kExitStartup;
  }
}

// villagebot restore FILE: replaces the database with a checked backup; refused while a server runs.
int cmd_restore(const std::string& config_file, const std::string& file) {
  auto cfg = load_config(config_file);
  if (!cfg) return kExitConfig;
  try {
    storage::ServerLock lock(cfg->storage.path);
    const auto r = storage::restore_database(file, cfg->storage.path);
    std::cout << "恢复完成 / restored: " << file << " → " << cfg->storage.path << " (" << r.bytes << " bytes, "
              << r.tables << " tables); start the server to apply any newer migrations\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "villagebot: restore refused: " << e.what() << "\n";
    return kExitStartup;
  }
}

int cmd_token_list(const std::string& config_file) {
  auto cfg = load_config(config_file);
  if (!cfg) return kExitConfig;
  support::setup_logging("warn");
  auto storage = runtime::open_storage(*cfg);
  runtime::TokenStore tokens(*storage);
  directory::SqliteDirectory dir(*storage);
  const auto all = tokens.list();
  if (all.empty()) {
    std::cout << "no tokens (villagebot token create --name NAME --role ROLE)\n";
    return 0;
  }
  std::cout << "name\trole\tperson\tcreated\tstatus\n";
  for (const auto& t : all) {
    std::string person = "-";
    if (t.person_id > 0) {
      if (auto p = dir.person(t.person_id)) person = p->name + " " + text::mask_phone(p->phone);
    }
    char created[32] = "";
    const std::time_t at = static_cast<std::time_t>(t.created_at);
    std::tm tm{};
    if (localtime_r(&at, &tm) != nullptr) std::strftime(created, sizeof created, "%Y-%m-%d %H:%M", &tm);
    std::cout << t.name << "\t" << t.role << "\t" << person << "\t" << created << "\t"
              << (t.revoked ? "revoked" : "active") << "\n";
  }
  return 0;
}

int cmd_token_revoke(const std::string& name, const std::string& config_file) {
  auto cfg = load_config(config_file);
  if (!cfg) return kExitConfig;
  support::setup_logging("warn");
  auto storage = runtime::open_storage(*cfg);
  runtime::TokenStore tokens(*storage);
  const auto actor = directory::audit::cli_actor();
  if (!tokens.revoke(name, &actor)) {
    std::cerr << "villagebot: no active token named '" << name << "'\n";
    return 1;
  }
  std::cout << "revoked: " << name << "\n";
  return 0;
}

// `villagebot broadcast status|list`: the outbox as officials see it.
void print_status(const nlohmann::json& st, bool tty) {
  const auto persons = st.value("persons", std::int64_t{0});
  const auto finished = st.value("finished", std::int64_t{0});
  std::cout << "广播 / broadcast #" << st["id"].get<std::int64_t>() << " (" << st.value("kind", "") << ", "
            << st.value("policy", "") << ", " << st.value("status", "") << ") by " << st.value("created_by", "") << ": "
            << persons << " persons";
  for (const auto& [k, v] : st["recipients"].items()) std::cout << "; " << k << " " << v.get<std::int64_t>();
  std::cout << "\n";
  if (tty && persons > 0) {
    constexpr int kWidth = 40;
    const int filled = static_cast<int>(kWidth * finished / persons);
    std::cout << "[" << std::string(static_cast<std::size_t>(filled), '#')
              << std::string(static_cast<std::size_t>(kWidth - filled), ' ') << "] " << finished << "/" << persons
              << " finished, " << st.value("acknowledged", std::int64_t{0}) << " acknowledged\n";
  }
}

int cmd_broadcast(const std::string& config_file, std::int64_t id, bool watch, bool list) {
  auto cfg = load_config(config_file);
  if (!cfg) return kExitConfig;
  support::setup_logging("warn");
  auto storage = runtime::open_storage(*cfg);
  directory::SqliteDirectory dir(*storage);
  support::Metrics metrics;
  delivery::DeliveryEngine engine(*storage, dir, metrics, *cfg);  // not started: reads only
  const bool tty = isatty(STDOUT_FILENO) != 0;
  if (list) {
    const auto page = engine.list_broadcasts(1, 50);
    if (page["items"].empty()) std::cout << "no broadcasts yet\n";
    for (const auto& st : page["items"]) print_status(st, false);
    return 0;
  }
  for (;;) {
    const auto st = engine.broadcast_status(id);
    if (st.is_null()) {
      std::cerr << "villagebot: no broadcast #" << id << "\n";
      return 1;
    }
    print_status(st, tty);
    if (!watch || st.value("finished", std::int64_t{0}) >= st.value("persons", std::int64_t{0})) return 0;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

// `villagebot <plugin> ARGS...`: loads the enabled plugins (the named one must be
// among them), configures them and hands the named one its arguments, the
// database and the directory. Nothing is started.
int cmd_plugin(const std::string& name, std::vector<std::string> args) {
  std::string given;
  for (auto it = args.begin(); it != args.end();) {
    if (*it == "--config" && it + 1 != args.end()) {
      given = *(it + 1);
      it = args.erase(it, it + 2);
    } else if (it->rfind("--config=", 0) == 0) {
      given = it->substr(9);
      it = args.erase(it);
    } else {
      ++it;
    }
  }
  auto cfg = load_config(given);
  if (!cfg) return kExitConfig;
  if (std::find(cfg->plugins_enabled.begin(), cfg->plugins_enabled.end(), name) == cfg->plugins_enabled.end()) {
    std::cerr << "villagebot: the " << name << " plugin is not enabled in " << config_path(given)
              << " ([plugins] enabled)\n";
    return kExitConfig;
  }
  support::setup_logging("warn");
  try {
    // Every enabled plugin, so that the named one's dependencies are there as in `serve`.
    auto plugins = loader::load_plugins(cfg->plugin_dir, cfg->plugins_enabled);
    for (auto& p : plugins) {
      auto& section = *cfg->plugin_sections.at(p.name);
      p.instance->configure(section);
      config::finish_section(section);
    }
    if (!cfg->ok()) {
      for (const auto& e : *cfg->errors) std::cerr << e << "\n";
      return kExitConfig;
    }
    auto storage = runtime::open_storage(*cfg);
    directory::SqliteDirectory dir(*storage);
    const VillageInfo village{cfg->village_name, cfg->timezone};
    PluginCommandLine command_line{std::move(args), *storage, dir, village, std::cout, std::cerr};
    for (auto& p : plugins) {
      if (p.name != name) continue;
      if (auto rc = p.instance->run_command_line(command_line)) return *rc;
      std::cerr << "villagebot: the " << name << " plugin has no command line\n";
      return kExitConfig;
    }
  } catch (const std::exception& e) {
    std::cerr << "villagebot: " << e.what() << "\n";
    return kExitStartup;
  }
  return kExitStartup;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"villagebot — 村务助手: notices, opinions, points, volunteers and emergencies over chat and SMS"};
  app.set_version_flag("--version", std::string("villagebot ") + VILLAGEBOT_VERSION);
  app.require_subcommand(1);
  std::string config_file;

  // Plugin command lines: everything after the plugin's name goes to the plugin.
  auto* points_cmd = app.add_subcommand(
      "points",
      "The points ledger (积分): `points verify --config FILE` checks the hash chain; `points head` prints it");
  points_cmd->prefix_command();

  auto* serve = app.add_subcommand("serve", "Run the server");
  serve->add_option("--config", config_file, "Config file (or VILLAGEBOT_CONFIG)");

  auto* config_cmd = app.add_subcommand("config", "Work with config files");
  config_cmd->require_subcommand(1);
  std::string check_file;
  auto* check = config_cmd->add_subcommand("check", "Validate a config file; prints OK or every error");
  check->add_option("FILE", check_file, "Config file")->required();

  auto* chat = app.add_subcommand("chat", "Talk to the bot as a villager (interactive, like an adapter)");
  std::string as_phone;
  chat->add_option("--as", as_phone, "The phone number to speak as")->required();
  chat->add_option("--config", config_file, "Config file (or VILLAGEBOT_CONFIG)");

  auto* import_cmd = app.add_subcommand("import", "Import data");
  import_cmd->require_subcommand(1);
  auto* import_people =
      import_cmd->add_subcommand("people", "Import people from a CSV (UTF-8, UTF-8 with BOM, or GBK)");
  std::string csv_file;
  bool dry_run = false;
  bool skip_bad = false;
  import_people->add_option("FILE", csv_file, "The CSV file")->required();
  import_people->add_option("--config", config_file, "Config file (or VILLAGEBOT_CONFIG)");
  import_people->add_flag("--dry-run", dry_run, "Show what would change; write nothing");
  import_people->add_flag("--skip-bad", skip_bad, "Import the good rows even if some rows are bad");

  auto* token = app.add_subcommand("token", "API tokens");
  token->require_subcommand(1);
  auto* token_create = token->add_subcommand("create", "Create an API token (printed once)");
  std::string token_name;
  std::string token_role;
  token_create->add_option("--name", token_name, "Who the token is for")->required();
  token_create->add_option("--role", token_role, "admin, cadre, supervisor, evaluator, commander ...")->required();
  std::string token_person;
  token_create->add_option("--person", token_person,
                           "The phone of the person it acts for (a cadre's scope: the units they answer for)");
  token_create->add_option("--config", config_file, "Config file (or VILLAGEBOT_CONFIG)");
  auto* token_list = token->add_subcommand("list", "List API tokens (never the tokens themselves)");
  token_list->add_option("--config", config_file, "Config file (or VILLAGEBOT_CONFIG)");
  auto* token_revoke = token->add_subcommand("revoke", "Revoke an API token");
  token_revoke->add_option("--name", token_name, "The token's name")->required();
  token_revoke->add_option("--config", config_file, "Config file (or VILLAGEBOT_CONFIG)");

  auto* export_cmd = app.add_subcommand("export", "Export data");
  export_cmd->require_subcommand(1);
  auto* export_people = export_cmd->add_subcommand("people", "Export the people register (CSV, UTF-8 with BOM)");
  std::string export_out;
  std::string export_headers;
  export_people->add_option("--out", export_out, "Write to this file (default: standard output)");
  export_people->add_option("--headers", export_headers, "zh (default) or en column headers");
  export_people->add_option("--config", config_file, "Config file (or VILLAGEBOT_CONFIG)");

  auto* broadcast_cmd = app.add_subcommand("broadcast", "Broadcasts: where every message is");
  broadcast_cmd->require_subcommand(1);
  auto* broadcast_status = broadcast_cmd->add_subcommand("status", "Counts by status, with a progress bar");
  std::int64_t broadcast_id = 0;
  bool broadcast_watch = false;
  broadcast_status->add_option("ID", broadcast_id, "The broadcast's number")->required();
  broadcast_status->add_flag("--watch", broadcast_watch, "Refresh every second until every recipient is finished");
  broadcast_status->add_option("--config", config_file, "Config file (or VILLAGEBOT_CONFIG)");
  auto* broadcast_list = broadcast_cmd->add_subcommand("list", "The latest broadcasts");
  broadcast_list->add_option("--config", config_file, "Config file (or VILLAGEBOT_CONFIG)");

  std::string backup_file;
  auto* backup_cmd =
      app.add_subcommand("backup", "Copy the database to FILE (SQLite online backup: the server may keep running)");
  backup_cmd->add_option("FILE", backup_file, "Where to write the backup")->required();
  backup_cmd->add_option("--config", config_file, "Config file (or VILLAGEBOT_CONFIG)");
  auto* restore_cmd =
      app.add_subcommand("restore", "Replace the database with a backup (checked first; the server must be stopped)");
  restore_cmd->add_option("FILE", backup_file, "The backup to restore")->required();
  restore_cmd->add_option("--config", config_file, "Config file (or VILLAGEBOT_CONFIG)");

  CLI11_PARSE(app, argc, argv);

  if (*points_cmd) return cmd_plugin("points", points_cmd->remaining());
  if (*serve) {
    auto cfg = load_config(config_file);
    if (!cfg) return kExitConfig;
    // One server per database, and none while a restore runs.
    std::optional<storage::ServerLock> lock;
    try {
      lock.emplace(cfg->storage.path);
    } catch (const std::exception& e) {
      std::cerr << "villagebot: cannot start: " << e.what() << "\n";
      return kExitStartup;
    }
    return run_runtime(std::move(*cfg), {}, true);
  }
  if (*backup_cmd) return cmd_backup(config_file, backup_file);
  if (*restore_cmd) return cmd_restore(config_file, backup_file);
  if (*check) return cmd_config_check(check_file);
  if (*chat) {
    auto cfg = load_config(config_file);
    if (!cfg) return kExitConfig;
    if (!text::normalise_phone(as_phone)) {
      std::cerr << "villagebot: --as needs a phone number, e.g. 13800000001\n";
      return kExitConfig;
    }
    runtime::RuntimeOptions options;
    options.serve_http = false;
    options.recover = false;
    options.extra_adapters.push_back(config::synthetic_adapter(
        *cfg, "console", "console", {{"as", as_phone}, {"prompt", isatty(STDIN_FILENO) ? "true" : "false"}}));
    if (cfg->log_level == "info") cfg->log_level = "warn";  // keep the conversation readable
    return run_runtime(std::move(*cfg), std::move(options), false);
  }
  if (*import_people) return cmd_import_people(csv_file, config_file, dry_run, skip_bad);
  if (*token_create) return cmd_token_create(token_name, token_role, token_person, config_file);
  if (*token_list) return cmd_token_list(config_file);
  if (*token_revoke) return cmd_token_revoke(token_name, config_file);
  if (*broadcast_status) return cmd_broadcast(config_file, broadcast_id, broadcast_watch, false);
  if (*broadcast_list) return cmd_broadcast(config_file, 0, false, true);
  if (*export_people) return cmd_export_people(config_file, export_out, export_headers);
  return 0;
}
