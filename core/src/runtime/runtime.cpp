#include "runtime/runtime.hpp"

#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "delivery/engine.hpp"
#include "directory/admin.hpp"
#include "directory/sqlite_directory.hpp"
#include "http/http_client.hpp"
#include "http/http_server.hpp"
#include "loader/module_loader.hpp"
#include "pipeline/deadlines.hpp"
#include "pipeline/event_bus.hpp"
#include "runtime/admin_api.hpp"
#include "runtime/console.hpp"
#include "runtime/contexts.hpp"
#include "runtime/core_commands.hpp"
#include "runtime/fault_monitor.hpp"
#include "runtime/job_scheduler.hpp"
#include "runtime/openapi.hpp"
#include "runtime/tokens.hpp"
#include "storage/core_schema.hpp"
#include "storage/sqlite_storage.hpp"
#include "villagebot/text.hpp"

#ifndef VILLAGEBOT_VERSION
#define VILLAGEBOT_VERSION "0.0.0"
#endif

namespace villagebot::runtime {

namespace asio = boost::asio;

std::unique_ptr<Storage> open_storage(const config::Config& cfg) {
  const auto parent = std::filesystem::path(cfg.storage.path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  storage::SqliteOptions options;
  options.synchronous_full = cfg.storage.synchronous_full;
  auto s = std::make_unique<storage::SqliteStorage>(cfg.storage.path, options);
  s->migrate("core", storage::core_migrations());
  return s;
}

struct Runtime::Impl {
  Impl(config::Config c, RuntimeOptions o) : cfg(std::move(c)), options(std::move(o)) {}

  config::Config cfg;
  RuntimeOptions options;
  support::Metrics metrics;
  std::unique_ptr<Storage> storage;
  std::unique_ptr<directory::SqliteDirectory> directory;
  pipeline::LocalEventBus events;
  pipeline::CommandRouter router;
  std::unique_ptr<TokenStore> tokens;
  std::unique_ptr<directory::DirectoryAdmin> admin;
  std::unique_ptr<JobScheduler> scheduler;
  std::unique_ptr<pipeline::Deadlines> deadlines;
  std::unique_ptr<asio::thread_pool> workers;
  std::unique_ptr<delivery::DeliveryEngine> messenger;
  std::unique_ptr<pipeline::Pipeline> pipeline;
  std::unique_ptr<FaultMonitor> monitor;
  http::RouteTable routes;
  http::BeastHttpClient http_client{http::HttpClientOptions{.ca_file = cfg.http_client.ca_file,
                                                            .https_proxy = cfg.http_client.https_proxy,
                                                            .no_proxy = cfg.http_client.no_proxy}};
  std::vector<loader::LoadedPlugin> plugins;
  std::vector<std::unique_ptr<PluginContextImpl>> plugin_contexts;
  std::vector<std::string> started_plugins;
  struct AdapterSlot {
    std::string id;
    loader::LoadedAdapter loaded;
    std::unique_ptr<AdapterContextImpl> context;
    bool started = false;
  };
  std::vector<AdapterSlot> adapters;
  std::vector<Registration> core_registrations;
  std::unique_ptr<http::HttpServer> server;
  std::uint16_t port = 0;
  bool running = false;
  std::mutex shutdown_mutex;
  std::condition_variable shutdown_cv;
  bool shutdown_requested = false;

  std::mutex workers_mutex;
  // After the pool is gone (shutdown), late completions run inline.
  void run_blocking(std::function<void()> fn) {
    std::unique_lock lock(workers_mutex);
    if (workers) {
      asio::post(*workers, std::move(fn));
      return;
    }
    lock.unlock();
    fn();
  }

  std::function<void()> after(std::chrono::milliseconds delay, std::function<void()> fn) {
    return deadlines->after(delay, std::move(fn));
  }

  // The /healthz document: the database (reads, writes, disk), the clock, every dispatcher, plugin
  // and adapter, the faults found, and the overall status: "ok"; "degraded" (faults, but messages
  // are still taken in and stored); "failing" (the database cannot be read or written: messages are
  // refused with 503 and their senders retry).
  nlohmann::json health() {
    nlohmann::json body{{"plugins", nlohmann::json::object()}, {"adapters", nlohmann::json::object()}};
    nlohmann::json faults = nlohmann::json::array();
    bool failing = false;
    auto fault = [&faults](std::string component, std::string code, std::string message, std::int64_t since_ms) {
      nlohmann::json f{{"component", std::move(component)}, {"code", std::move(code)}, {"message", std::move(message)}};
      if (since_ms > 0) f["since_ms"] = since_ms;
      faults.push_back(std::move(f));
    };
    try {
      storage->read([](Session& s) { s.query("SELECT 1"); });
      body["database"] = {{"state", "ok"}};
    } catch (const std::exception& e) {
      failing = true;
      body["database"] = {{"state", "error"}, {"error", e.what()}};
      fault("database", "database_unreadable", std::string("数据库无法读取 / the database cannot be read: ") + e.what(),
            0);
    }
    if (auto* sqlite = dynamic_cast<storage::SqliteStorage*>(storage.get())) {
      const auto w = sqlite->write_health();
      nlohmann::json writes{{"state", w.failing ? "failing" : "ok"}, {"total_failures", w.total_failures}};
      if (w.last_ok_ms > 0) writes["last_ok_ms"] = w.last_ok_ms;
      if (w.failing) {
        failing = true;
        writes["error"] = w.error;
        writes["failures"] = w.failures;
        writes["since_ms"] = w.since_ms;
        fault("database", "database_writes_failing",
              "数据库无法写入，消息暂不接收 / database writes failing, messages are refused for now: " + w.error,
              w.since_ms);
      }
      body["database"]["writes"] = std::move(writes);
    }
    if (monitor) {
      if (const auto free = monitor->disk_free()) {
        body["database"]["disk_free_bytes"] = *free;
        if (*free < FaultMonitor::kDiskLowBytes)
          fault("disk", "disk_low",
                "数据库所在磁盘空间不足 / low disk space where the database is: " + std::to_string(*free / 1024) +
                    " KiB free",
                0);
      }
      if (const auto jump = monitor->recent_jump()) {
        const auto s = std::to_string((std::abs(jump->by_ms) + 500) / 1000);  // rounded
        body["clock"] = {{"jumped_at_ms", jump->at_ms}, {"jumped_by_ms", jump->by_ms}};
        fault("clock", "clock_jumped",
              jump->by_ms < 0 ? "系统时钟向后跳了 " + s + " 秒 / the system clock jumped back " + s + " s"
                              : "系统时钟向前跳了 " + s + " 秒 / the system clock jumped forward " + s + " s",
              jump->at_ms);
      }
    }
    std::set<std::string> down;
    if (messenger) {
      body["delivery"] = messenger->health();
      for (const auto& [id, d] : body["delivery"].items()) {
        if (d.value("state", "") != "gateway_down") continue;
        down.insert(id);
        fault("adapter:" + id, "gateway_down",
              "网关无法连接，消息暂存待发 / the gateway cannot be reached, messages are held: " +
                  d.value("down_error", std::string()),
              d.value("down_since_ms", std::int64_t{0}));
      }
    }
    for (auto& p : plugins) body["plugins"][p.name] = p.instance->health();
    for (auto& a : adapters) {
      auto h = a.loaded.instance->health();
      // An adapter that holds a connection (SMPP, the modem) says itself when it has lost it.
      const std::string state = h.is_object() ? h.value("state", "") : "";
      if ((state == "disconnected" || state == "backing_off") && !down.contains(a.id)) {
        std::string why = h.value("error", h.value("last_error", std::string()));
        fault("adapter:" + a.id, "gateway_down",
              "网关连接中断，消息暂存待发 / the gateway connection is down, messages are held" +
                  (why.empty() ? std::string() : ": " + why),
              0);
      }
      body["adapters"][a.id] = std::move(h);
    }
    body["faults"] = std::move(faults);
    body["status"] = failing ? "failing" : body["faults"].empty() ? "ok" : "degraded";
    body["version"] = VILLAGEBOT_VERSION;
    return body;
  }

  void configure_modules();
  void start_modules();
  void register_core_routes();
  void register_group_chats(const std::string& adapter_id, const std::vector<GroupChat>& chats);
  void stop_all();
};

void Runtime::Impl::configure_modules() {
  // Adapters first: their sections are validated like the plugins', and all
  // problems are reported together.
  std::vector<config::AdapterEntry> entries = cfg.adapters;
  entries.insert(entries.end(), options.extra_adapters.begin(), options.extra_adapters.end());
  for (auto& entry : entries) {
    if (entry.id.empty() || entry.type.empty()) continue;
    AdapterSlot slot;
    slot.id = entry.id;
    slot.loaded = loader::load_adapter(cfg.plugin_dir, entry.type);
    try {
      slot.loaded.instance->configure(*entry.section);
    } catch (const std::exception& e) {
      entry.section->error("", std::string("adapter rejected its configuration: ") + e.what());
    }
    config::finish_section(*entry.section);
    adapters.push_back(std::move(slot));
  }
  plugins = loader::load_plugins(cfg.plugin_dir, cfg.plugins_enabled);
  for (auto& p : plugins) {
    auto& section = *cfg.plugin_sections.at(p.name);
    try {
      p.instance->configure(section);
    } catch (const std::exception& e) {
      section.error("", std::string("plugin rejected its configuration: ") + e.what());
    }
    config::finish_section(section);
  }
  if (!cfg.ok()) {
    std::string all = "the configuration has errors:";
    for (const auto& e : *cfg.errors) all += "\n  " + e;
    throw loader::StartupError(all);
  }
}

void Runtime::Impl::start_modules() {
  Services services{VillageInfo{cfg.village_name, cfg.timezone},
                    router,
                    events,
                    *storage,
                    *scheduler,
                    *messenger,
                    *directory,
                    routes,
                    http_client};
  for (auto& p : plugins) {
    auto ctx = std::make_unique<PluginContextImpl>(services, p.name);
    try {
      p.instance->start(*ctx);
    } catch (const std::exception& e) {
      throw loader::StartupError("plugin '" + p.name + "' failed to start: " + e.what());
    }
    plugin_contexts.push_back(std::move(ctx));
    started_plugins.push_back(p.name);
    spdlog::info("plugin {} {} started", p.name, p.version);
  }
  std::vector<delivery::DeliveryEngine::AdapterSlot> routes_for_messenger;
  for (auto& a : adapters) {
    a.context = std::make_unique<AdapterContextImpl>(
        a.id, *pipeline, routes, http_client, *storage,
        [this] {
          std::lock_guard lock(shutdown_mutex);
          shutdown_requested = true;
          shutdown_cv.notify_all();
        },
        [this, id = a.id](const std::string& provider_id, bool delivered, const std::string& error,
                          std::function<void(bool)> stored) {
          messenger->report_delivery(id, provider_id, delivered, error, std::move(stored));
        },
        [this](OutboundMessage m) { messenger->send(std::move(m)); },
        [this, id = a.id, kind = a.loaded.instance->identity_kind()](const std::string& address) {
          const auto person =
              kind == "phone" ? directory->find_by_phone(address) : directory->find_by_identity(kind, address);
          if (!person || person->opted_out) return;
          directory->set_opted_out(person->id, true);
          spdlog::info("adapter {}: the gateway says {} refuses messages; person {} opted out", id,
                       text::mask_phone(address), person->id);
        });
    try {
      a.loaded.instance->start(*a.context);
    } catch (const std::exception& e) {
      throw loader::StartupError("adapter '" + a.id + "' failed to start: " + e.what());
    }
    a.started = true;
    const config::AdapterEntry* entry = nullptr;
    for (const auto& e : cfg.adapters)
      if (e.id == a.id) entry = &e;
    for (const auto& e : options.extra_adapters)
      if (e.id == a.id) entry = &e;
    routes_for_messenger.push_back(
        {a.id, a.loaded.instance.get(), entry != nullptr ? entry->delivery : config::AdapterDelivery{}});
    register_group_chats(a.id, a.loaded.instance->group_chats());
    spdlog::info("adapter {} ({}) started", a.id, a.loaded.type);
  }
  messenger->start(std::move(routes_for_messenger));
}

// The group chats an adapter's config declares: added or updated (name, org unit) by chat id;
// those registered through the API are left as they are.
void Runtime::Impl::register_group_chats(const std::string& adapter_id, const std::vector<GroupChat>& chats) {
  for (const auto& g : chats) {
    std::optional<OrgUnit> unit;
    if (!g.org_unit.empty()) {
      unit = directory->org_unit_by_path(g.org_unit);
      if (!unit)
        spdlog::warn("adapter {}: group chat {} names the org unit '{}', which the directory does not have", adapter_id,
                     g.chat_id, g.org_unit);
    }
    storage->write_sync([&](Session& s) {
      s.execute(
          "INSERT INTO core_group_chats (adapter_id, chat_id, name, org_unit_id) VALUES (?, ?, ?, ?) ON CONFLICT "
          "(adapter_id, chat_id) DO UPDATE SET name = excluded.name, org_unit_id = excluded.org_unit_id",
          {adapter_id, g.chat_id, g.name, unit ? Value{unit->id} : Value{nullptr}});
    });
  }
}

void Runtime::Impl::register_core_routes() {
  auto add = [this](std::string method, std::string path, std::string summary, HttpHandler handler, bool is_public) {
    RouteSpec spec;
    spec.method = std::move(method);
    spec.path = std::move(path);
    spec.summary = std::move(summary);
    spec.public_route = is_public;
    spec.handler = std::move(handler);
    core_registrations.push_back(routes.add(std::move(spec)));
  };
  add(
      "GET", "/healthz", "Health of the database, plugins and adapters",
      [this](const HttpRequest&, const Responder& respond) {
        auto body = health();
        respond(HttpResponse::json(body["status"] == "failing" ? 503 : 200, body));
      },
      true);
  add(
      "GET", "/metrics", "Prometheus metrics",
      [this](const HttpRequest&, const Responder& respond) {
        respond(HttpResponse::text(200, metrics.render(), "text/plain; version=0.0.4; charset=utf-8"));
      },
      true);
  add(
      "GET", "/api/v1/openapi.json", "This OpenAPI document",
      [this](const HttpRequest&, const Responder& respond) {
        respond(HttpResponse::json(200, openapi_document(routes)));
      },
      true);
  for (auto& r : register_console(routes)) core_registrations.push_back(std::move(r));
  for (auto& r : register_admin_api(routes, *admin, *tokens, *storage, *messenger))
    core_registrations.push_back(std::move(r));
}

void Runtime::Impl::stop_all() {
  if (monitor) {
    monitor->stop();
    monitor.reset();
  }
  if (server) {
    server->shutdown();
    server.reset();
  }
  // The dispatchers call the adapters: they stop first.
  if (messenger) messenger->stop();
  for (auto it = adapters.rbegin(); it != adapters.rend(); ++it) {
    if (!it->started) continue;
    try {
      it->loaded.instance->stop();
    } catch (const std::exception& e) {
      spdlog::error("adapter {} failed to stop: {}", it->id, e.what());
    }
    it->started = false;
  }
  for (auto it = plugins.rbegin(); it != plugins.rend(); ++it) {
    if (std::find(started_plugins.begin(), started_plugins.end(), it->name) == started_plugins.end()) continue;
    try {
      it->instance->stop();
    } catch (const std::exception& e) {
      spdlog::error("plugin {} failed to stop: {}", it->name, e.what());
    }
  }
  started_plugins.clear();
  if (scheduler) scheduler->stop();
  // In-flight pipeline work finishes before the database closes.
  if (workers) {
    workers->join();
    std::lock_guard lock(workers_mutex);
    workers.reset();
  }
  if (deadlines) deadlines->stop();
  // Drain the writer while the pipeline its callbacks refer to still exists.
  if (auto* sqlite = dynamic_cast<storage::SqliteStorage*>(storage.get())) sqlite->close();
  core_registrations.clear();
  // Instances before contexts, contexts before libraries (LoadedPlugin's member order).
  for (auto it = plugins.rbegin(); it != plugins.rend(); ++it) it->instance.reset();
  for (auto it = adapters.rbegin(); it != adapters.rend(); ++it) it->loaded.instance.reset();
  plugin_contexts.clear();
  adapters.clear();
  plugins.clear();
  pipeline.reset();
  messenger.reset();
  scheduler.reset();
  admin.reset();
  tokens.reset();
  if (storage) {
    storage.reset();
  }
}

Runtime::Runtime(config::Config config, RuntimeOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(options))) {}

Runtime::~Runtime() {
  stop();
}

void Runtime::start() {
  auto& d = *impl_;
  if (!d.cfg.ok()) {
    std::string all = "the configuration has errors:";
    for (const auto& e : *d.cfg.errors) all += "\n  " + e;
    throw loader::StartupError(all);
  }
  try {
    const auto started = std::chrono::steady_clock::now();
    const auto started_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    d.storage = open_storage(d.cfg);
    d.directory = std::make_unique<directory::SqliteDirectory>(*d.storage);
    d.tokens = std::make_unique<TokenStore>(*d.storage);
    d.admin =
        std::make_unique<directory::DirectoryAdmin>(*d.storage, *d.directory, [&d] { d.directory->invalidate(); });
    std::function<Scheduler::Clock::time_point()> now = d.options.now;
    if (!now) now = [] { return Scheduler::Clock::now(); };
    d.scheduler = std::make_unique<JobScheduler>(*d.storage, now, delivery::parse_utc_offset(d.cfg.timezone));
    d.workers = std::make_unique<asio::thread_pool>(static_cast<std::size_t>(d.cfg.pipeline.workers));
    d.deadlines = std::make_unique<pipeline::Deadlines>();
    d.messenger = std::make_unique<delivery::DeliveryEngine>(*d.storage, *d.directory, d.metrics, d.cfg, now);
    d.pipeline = std::make_unique<pipeline::Pipeline>(pipeline::PipelineDeps{
        d.cfg.pipeline, *d.storage, *d.directory, d.router, d.metrics, *d.messenger,
        [&d](std::function<void()> fn) { d.run_blocking(std::move(fn)); },
        [&d](std::chrono::milliseconds delay, std::function<void()> fn) { return d.after(delay, std::move(fn)); }});
    auto* sqlite = dynamic_cast<storage::SqliteStorage*>(d.storage.get());
    // A message's answer is logged in the transaction that accepted it when its handler is done
    // within a millisecond (almost always): the accepting commit waits that long at most.
    sqlite->set_commit_hold([p = d.pipeline.get()] { return p->answers_pending_in_transaction(); },
                            std::chrono::microseconds(1000));
    d.metrics.gauge("villagebot_storage_write_queue_depth", "Write jobs waiting for the writer",
                    [sqlite] { return static_cast<double>(sqlite->queue_depth()); });
    // For the alert rules (config/prometheus/villagebot-alerts.yml): a queue that does not move and
    // scheduled work (escalation steps, reminders, poll closes) that does not run.
    Storage* store = d.storage.get();
    auto now_ms = [now] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch()).count();
    };
    d.metrics.gauge(
        "villagebot_outbox_oldest_due_seconds",
        "Seconds the oldest unsent message (queued or being sent) has been due (0: none); grows when a queue is stuck",
        [store, now_ms] {
          const auto t = now_ms();
          return static_cast<double>(store->read([&](Session& s) {
                   return s
                       .query(
                           "SELECT COALESCE(MAX(? - MAX(created_at_ms, not_before_ms)), 0) FROM "
                           "core_outbox WHERE status IN ('queued', 'sending') AND not_before_ms <= ?",
                           {t, t})
                       .at(0)
                       .integer(0);
                 })) /
                 1000.0;
        });
    d.metrics.gauge("villagebot_up",
                    "1 unless /healthz says failing (the database cannot be read or written: messages are refused)",
                    [&d] { return d.health()["status"] == "failing" ? 0.0 : 1.0; });
    d.metrics.gauge("villagebot_faults",
                    "Faults /healthz lists: writes failing, low disk, a clock jump, a gateway down ... (0: none)",
                    [&d] { return static_cast<double>(d.health()["faults"].size()); });
    d.metrics.gauge(
        "villagebot_scheduler_overdue_jobs",
        "Scheduled jobs (escalation steps, reminders, poll closes) more than a minute past due", [store, now_ms] {
          const auto t = now_ms();
          return static_cast<double>(store->read([&](Session& s) {
            return s.query("SELECT COUNT(*) FROM core_jobs WHERE status = 'pending' AND due_at_ms < ?", {t - 60000})
                .at(0)
                .integer(0);
          }));
        });
    d.configure_modules();
    for (auto& r : register_core_commands(d.router, *d.directory, *d.messenger, d.events, d.cfg.village_name))
      d.core_registrations.push_back(std::move(r));
    d.start_modules();
    d.register_core_routes();
    d.scheduler->start();
    if (sqlite != nullptr) {
      d.monitor = std::make_unique<FaultMonitor>(now, *sqlite, *d.messenger, *d.scheduler, d.cfg.storage.path);
      d.monitor->start();
    }
    if (d.options.recover) d.pipeline->recover(started_ms);
    if (d.options.serve_http) {
      d.server = std::make_unique<http::HttpServer>(
          d.cfg.server, d.routes, d.metrics,
          http::ServerHooks{[&d](const std::string& token) -> std::optional<http::Principal> {
                              auto info = d.tokens->authenticate(token);
                              if (!info) return std::nullopt;
                              return http::Principal{info->name, info->role, info->person_id};
                            },
                            [&d](std::function<void()> fn) { d.run_blocking(std::move(fn)); }});
      d.port = d.server->start();
    }
    d.running = true;
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    if (d.options.serve_http)
      spdlog::info("villagebot {} ready on http://{}:{} in {} ms ({} plugins, {} adapters)", VILLAGEBOT_VERSION,
                   d.cfg.server.host, d.port, ms, d.plugins.size(), d.adapters.size());
  } catch (...) {
    d.stop_all();
    throw;
  }
}

void Runtime::wait() {
  std::unique_lock lock(impl_->shutdown_mutex);
  impl_->shutdown_cv.wait(lock, [this] { return impl_->shutdown_requested; });
}

void Runtime::request_shutdown() {
  std::lock_guard lock(impl_->shutdown_mutex);
  impl_->shutdown_requested = true;
  impl_->shutdown_cv.notify_all();
}

void Runtime::stop() {
  if (!impl_) return;
  impl_->stop_all();
  impl_->running = false;
}

std::uint16_t Runtime::port() const {
  return impl_->port;
}
const config::Config& Runtime::config() const {
  return impl_->cfg;
}
pipeline::Pipeline& Runtime::pipeline() {
  return *impl_->pipeline;
}
Storage& Runtime::storage() {
  return *impl_->storage;
}
Directory& Runtime::directory() {
  return *impl_->directory;
}
support::Metrics& Runtime::metrics() {
  return impl_->metrics;
}
JobScheduler& Runtime::scheduler() {
  return *impl_->scheduler;
}
TokenStore& Runtime::tokens() {
  return *impl_->tokens;
}
Messenger& Runtime::messenger() {
  return *impl_->messenger;
}
http::RouteTable& Runtime::routes() {
  return impl_->routes;
}

nlohmann::json Runtime::health() {
  return impl_->health();
}

}  // namespace villagebot::runtime
