#pragma once
#include <functional>
#include <memory>
#include <string>

#include "http/route_table.hpp"
#include "pipeline/command_router.hpp"
#include "pipeline/pipeline.hpp"
#include "villagebot/adapter.hpp"
#include "villagebot/plugin.hpp"

namespace villagebot::runtime {

// A plugin's commands, counted under its own name.
class OwnedCommands final : public CommandRegistry {
 public:
  OwnedCommands(pipeline::CommandRouter& router, std::string owner) : router_(router), owner_(std::move(owner)) {}
  Registration add(CommandSpec spec) override { return router_.add_owned(std::move(spec), owner_); }
  void ask(std::int64_t person_id, std::chrono::seconds timeout, PromptHandler handler) override {
    router_.ask(person_id, timeout, std::move(handler));
  }
  Registration intercept(PromptHandler handler) override { return router_.intercept(std::move(handler)); }

 private:
  pipeline::CommandRouter& router_;
  std::string owner_;
};

struct Services {
  VillageInfo village;
  pipeline::CommandRouter& router;
  EventBus& events;
  Storage& storage;
  Scheduler& scheduler;
  Messenger& messenger;
  Directory& directory;
  http::RouteTable& routes;
  HttpClient& http_client;
};

class PluginContextImpl final : public PluginContext {
 public:
  PluginContextImpl(const Services& services, std::string name);
  [[nodiscard]] const std::string& name() const override { return name_; }
  [[nodiscard]] const VillageInfo& village() const override { return services_.village; }
  CommandRegistry& commands() override { return commands_; }
  EventBus& events() override { return services_.events; }
  Storage& storage() override { return services_.storage; }
  Scheduler& scheduler() override { return services_.scheduler; }
  Messenger& messenger() override { return services_.messenger; }
  Directory& directory() override { return services_.directory; }
  RouteRegistry& routes() override { return routes_; }
  HttpClient& http_client() override { return services_.http_client; }
  spdlog::logger& logger() override { return *logger_; }

 private:
  Services services_;
  std::string name_;
  OwnedCommands commands_;
  http::PrefixedRoutes routes_;
  std::shared_ptr<spdlog::logger> logger_;
};

class AdapterContextImpl final : public AdapterContext {
 public:
  using ReceiptFn = std::function<void(const std::string& provider_id, bool delivered, const std::string& error,
                                       std::function<void(bool)> stored)>;
  using SendFn = std::function<void(OutboundMessage)>;
  using OptOutFn = std::function<void(const std::string& address)>;
  AdapterContextImpl(std::string id, pipeline::Pipeline& pipeline, http::RouteTable& routes, HttpClient& client,
                     Storage& storage, std::function<void()> shutdown, ReceiptFn receipts, SendFn send,
                     OptOutFn opt_out);
  [[nodiscard]] const std::string& id() const override { return id_; }
  void submit(InboundMessage message, std::function<void(SubmitResult)> done) override;
  RouteRegistry& routes() override { return routes_; }
  HttpClient& http_client() override { return client_; }
  spdlog::logger& logger() override { return *logger_; }
  void request_shutdown() override { shutdown_(); }
  void report_delivery(const std::string& provider_id, bool delivered, const std::string& error) override {
    if (receipts_) receipts_(provider_id, delivered, error, nullptr);
  }
  void report_delivery_stored(const std::string& provider_id, bool delivered, const std::string& error,
                              std::function<void(bool)> stored) override {
    if (receipts_) receipts_(provider_id, delivered, error, std::move(stored));
  }
  void reply(const InboundMessage& to, const Replies& replies) override;
  Storage& storage() override { return storage_; }
  void opt_out(const std::string& address) override {
    if (opt_out_) opt_out_(address);
  }

 private:
  std::string id_;
  pipeline::Pipeline& pipeline_;
  http::PrefixedRoutes routes_;
  HttpClient& client_;
  Storage& storage_;
  OptOutFn opt_out_;
  std::function<void()> shutdown_;
  ReceiptFn receipts_;
  SendFn send_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace villagebot::runtime
