#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "villagebot/config.hpp"

namespace villagebot::config {

struct ServerConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  int threads = 2;
  std::size_t body_limit = 1024 * 1024;
  std::chrono::milliseconds header_timeout{10000};  // whole header must arrive within
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds idle_timeout{60000};  // keep-alive connection with no request
  std::size_t max_connections = 1024;
  std::chrono::milliseconds shutdown_grace{10000};
  std::string public_base_url;
};

// [http_client]: outbound HTTPS of the adapters.
struct HttpClientConfig {
  std::string ca_file;      // PEM CA certificates instead of the system store ("" = the system's)
  std::string https_proxy;  // "" = the https_proxy environment variable; "none" = never
  std::string no_proxy;     // "" = the no_proxy environment variable
};

struct StorageConfig {
  std::string path = "data/villagebot.db";
  bool synchronous_full = true;
};

struct PipelineConfig {
  int workers = 2;  // about one per core: more threads only add context switches
  std::chrono::milliseconds handler_timeout{5000};
  int rate_limit_messages = 10;  // per sender per window; 0 disables
  std::chrono::seconds rate_limit_window{60};
  std::chrono::seconds prompt_timeout{300};
  std::vector<std::string> bot_names{"villagebot", "村小助手"};
};

// How the delivery engine treats one adapter instance (keys of its [[adapters]] entry).
struct AdapterDelivery {
  int rate_per_minute = 0;      // token bucket; 0: unlimited (WeCom/DingTalk robots: 20)
  int burst = 1;                // tokens the bucket holds
  int concurrency = 8;          // sends in flight at once
  double cost_per_segment = 0;  // SMS: price of one segment, for the plan's estimate
};

// The delivery engine ([delivery]).
struct DeliveryConfig {
  std::string quiet_hours;  // "21:30-07:00" in the village's time zone; "" = none
  int max_attempts = 6;
  std::chrono::milliseconds retry_base{2000};  // first back-off; doubles, with jitter
  std::chrono::milliseconds retry_max{600000};
  // A gateway that cannot be reached (connection refused, timeout, a modem unplugged): the message
  // is held, not counted as an attempt, and tried again after this long (unless the adapter says).
  std::chrono::milliseconds gateway_retry{30000};
  std::chrono::seconds expire_after{86400};  // a message this old is not sent any more
};

struct AdapterEntry {
  std::string id;
  std::string type;
  int line = 0;
  AdapterDelivery delivery;
  std::shared_ptr<ConfigSection> section;  // the whole [[adapters]] table (id and type already read)
};

struct Config {
  std::string file;
  std::string village_name = "本村";
  std::string timezone = "Asia/Shanghai";
  std::string log_level = "info";
  ServerConfig server;
  HttpClientConfig http_client;
  StorageConfig storage;
  PipelineConfig pipeline;
  DeliveryConfig delivery;
  std::string plugin_dir = "build/plugins";
  std::vector<std::string> plugins_enabled;
  std::map<std::string, std::shared_ptr<ConfigSection>> plugin_sections;  // [plugins.<name>]
  std::vector<AdapterEntry> adapters;

  // Shared with every section: "FILE:LINE: key 'a.b': message".
  std::shared_ptr<std::vector<std::string>> errors = std::make_shared<std::vector<std::string>>();
  [[nodiscard]] bool ok() const { return errors->empty(); }

  // Keeps the parsed TOML tree alive for the sections.
  std::shared_ptr<void> document;
};

// Parses and validates the core's keys; ${NAME} is taken from the environment.
// Never throws for bad input: problems land in Config::errors. Plugin and
// adapter sections are validated by their modules (see ConfigSection).
Config load(const std::string& file);
Config load_string(const std::string& toml_text, const std::string& file_name);

// An [[adapters]] entry made in code (e.g. the console of `villagebot chat`).
AdapterEntry synthetic_adapter(Config& config, const std::string& id, const std::string& type,
                               const std::vector<std::pair<std::string, std::string>>& values);

// Reports keys of a section that no module read (unknown keys).
void finish_section(ConfigSection& section);

}  // namespace villagebot::config
