#pragma once
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <spdlog/logger.h>
#include <nlohmann/json.hpp>

#include "villagebot/command.hpp"
#include "villagebot/config.hpp"
#include "villagebot/directory.hpp"
#include "villagebot/events.hpp"
#include "villagebot/http.hpp"
#include "villagebot/http_client.hpp"
#include "villagebot/messenger.hpp"
#include "villagebot/scheduler.hpp"
#include "villagebot/storage.hpp"

namespace villagebot {

struct VillageInfo {
  std::string name;      // 村名, used in SMS signatures 【村名】
  std::string timezone;  // IANA name, e.g. Asia/Shanghai
};

// The narrow view of the server a plugin gets in start(). Keep only what you
// use; everything registered through it returns a Registration to hold.
class PluginContext {
 public:
  virtual ~PluginContext() = default;
  [[nodiscard]] virtual const std::string& name() const = 0;
  [[nodiscard]] virtual const VillageInfo& village() const = 0;
  virtual CommandRegistry& commands() = 0;
  virtual EventBus& events() = 0;
  virtual Storage& storage() = 0;
  virtual Scheduler& scheduler() = 0;
  virtual Messenger& messenger() = 0;
  virtual Directory& directory() = 0;
  // Paths are relative to /api/v1/<plugin name>/ and need an API token.
  virtual RouteRegistry& routes() = 0;
  virtual HttpClient& http_client() = 0;
  virtual spdlog::logger& logger() = 0;
};

// What `villagebot <plugin name> ARGS... --config FILE` hands a plugin (e.g.
// `villagebot points verify`): its arguments, the database and the directory,
// and where to print. The server need not be running.
struct PluginCommandLine {
  std::vector<std::string> args;  // after the plugin's name, without --config FILE
  Storage& storage;
  Directory& directory;
  const VillageInfo& village;
  std::ostream& out;
  std::ostream& err;
};

class Plugin {
 public:
  virtual ~Plugin() = default;
  // Read and validate the plugin's own [plugins.<name>] section. Called before
  // start(), and alone by `villagebot config check`.
  virtual void configure(ConfigSection& /*config*/) {}
  // Apply migrations, register commands, routes, subscriptions.
  virtual void start(PluginContext& context) = 0;
  // Release registrations; called in reverse dependency order.
  virtual void stop() {}
  [[nodiscard]] virtual nlohmann::json health() const { return {{"state", "running"}}; }
  // The plugin's own command line; called after configure(), without start().
  // Returns the process's exit code, or std::nullopt when the plugin has none.
  virtual std::optional<int> run_command_line(PluginCommandLine& /*command_line*/) { return std::nullopt; }
};

}  // namespace villagebot
