#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"

namespace villagebot {
class Storage;
class Directory;
class Messenger;
}  // namespace villagebot

namespace villagebot::pipeline {
class Pipeline;
class CommandRouter;
}  // namespace villagebot::pipeline

namespace villagebot::support {
class Metrics;
}

namespace villagebot::http {
class RouteTable;
}

namespace villagebot::runtime {

class JobScheduler;
class TokenStore;

struct RuntimeOptions {
  bool serve_http = true;
  // Answer messages a crash left unanswered. Only the server does: `villagebot
  // chat` next to a running server must not take over the server's messages.
  bool recover = true;
  // Appended to the config's adapters (`villagebot chat` adds the console).
  std::vector<config::AdapterEntry> extra_adapters;
  // The clock of the scheduler and the delivery engine (tests move it); empty: the system clock.
  std::function<std::chrono::system_clock::time_point()> now;
};

// Everything one villagebot process runs: storage, the worker pool, the
// pipeline, the loaded plugins and adapters, and the HTTP server. No global
// state: tests start several in one process.
class Runtime {
 public:
  explicit Runtime(config::Config config, RuntimeOptions options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Throws loader::StartupError (naming the module and the reason) or
  // std::runtime_error; on failure everything started so far is stopped.
  void start();
  // Blocks until request_shutdown().
  void wait();
  void request_shutdown();
  // Graceful: stop accepting, finish in-flight work, stop plugins in reverse
  // order, close the database. Idempotent.
  void stop();

  [[nodiscard]] std::uint16_t port() const;
  [[nodiscard]] nlohmann::json health();
  [[nodiscard]] const config::Config& config() const;

  pipeline::Pipeline& pipeline();
  Storage& storage();
  Directory& directory();
  support::Metrics& metrics();
  JobScheduler& scheduler();
  TokenStore& tokens();
  http::RouteTable& routes();
  Messenger& messenger();  // the delivery engine  // every registered route (core, plugins, adapters)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Opens the database of a config and applies the core migrations (for CLI
// commands that need no server: import, token).
std::unique_ptr<Storage> open_storage(const config::Config& config);

}  // namespace villagebot::runtime
