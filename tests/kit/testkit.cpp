#include "testkit.hpp"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <random>
#include <stdexcept>

#include "config/config.hpp"
#include "directory/people_import.hpp"
#include "http/http_client.hpp"
#include "pipeline/pipeline.hpp"
#include "runtime/job_scheduler.hpp"
#include "runtime/tokens.hpp"
#include "support/logging.hpp"
#include "villagebot/crypto.hpp"

namespace villagebot::testkit {

const char* const kSmallVillageCsv =
    "户号,户主,姓名,手机,村民小组,角色,企业微信,钉钉,飞书,telegram,语言,中心户,负责\n"
    "H001,王大山,王大山,13800000001,一组/东院,村民,,,,,,,\n"
    "H001,王大山,王小红,13800000002,一组/东院,村干部,,,,,,,一组\n"
    "H002,李四,李四,13800000003,二组,评议员,,,,,en,H001,\n"
    "H003,赵五,赵五,13800000004,二组,指挥长;应急队员,wx-004,,,,,H001,\n"
    "H004,管理员,钱七,13800000009,三组,管理员,,,,,,,\n";

std::filesystem::path make_temp_dir(const std::string& prefix) {
  std::random_device rd;
  const auto base = std::filesystem::temp_directory_path();
  for (int i = 0; i < 100; ++i) {
    auto p = base / (prefix + "-" + std::to_string(rd()));
    if (std::filesystem::create_directory(p)) return p;
  }
  throw std::runtime_error("cannot make a temporary folder");
}

TestServer::TestServer(Options options)
    : options_(std::move(options)),
      dir_(make_temp_dir("villagebot-test")),
      client_(std::make_unique<http::BeastHttpClient>()) {
  support::setup_logging(std::getenv("VILLAGEBOT_TEST_LOG") != nullptr ? std::getenv("VILLAGEBOT_TEST_LOG") : "off");
  std::string toml =
      "[village]\nname = \"测试村\"\n\n[server]\nlisten = \"127.0.0.1:0\"\nthreads = 2\nshutdown_grace_ms = 3000\n";
  toml += options_.server_toml + "\n\n";
  toml += "[storage]\npath = \"" + db_path().string() + "\"\nsynchronous = \"normal\"\n\n";
  toml += "[pipeline]\nworkers = 4\nhandler_timeout_ms = " + std::to_string(options_.handler_timeout_ms) +
          "\nrate_limit_messages = " + std::to_string(options_.rate_limit_messages) + "\nrate_limit_window_s = 60\n\n";
  toml += "[plugins]\ndir = \"" + std::string(VILLAGEBOT_MODULE_DIR) + "\"\nenabled = [";
  for (std::size_t i = 0; i < options_.plugins.size(); ++i) toml += (i ? ", \"" : "\"") + options_.plugins[i] + "\"";
  toml += "]\n\n";
  for (const auto& [name, body] : options_.plugin_sections) toml += "[plugins." + name + "]\n" + body + "\n\n";
  toml += "[[adapters]]\nid = \"generic\"\ntype = \"generic-webhook\"\n";
  if (!options_.secret.empty()) toml += "secret = \"" + options_.secret + "\"\n";
  toml += options_.adapter_toml + "\n\n" + options_.extra_toml + "\n";
  std::ofstream(config_path()) << toml;
  if (!options_.people_csv.empty()) {
    auto cfg = config::load(config_path().string());
    if (!cfg.ok()) throw std::runtime_error("test config: " + cfg.errors->front());
    auto storage = runtime::open_storage(cfg);
    auto report = directory::import_people(*storage, options_.people_csv, {});
    if (!report.applied)
      throw std::runtime_error("the test village did not import: " +
                               (report.problems.empty() ? std::string("?") : report.problems.front().reason));
  }
  boot();
}

TestServer::~TestServer() {
  runtime_.reset();
  std::error_code ec;
  if (std::getenv("VILLAGEBOT_TEST_KEEP") == nullptr) std::filesystem::remove_all(dir_, ec);
}

void TestServer::boot() {
  auto cfg = config::load(config_path().string());
  if (!cfg.ok()) throw std::runtime_error("test config: " + cfg.errors->front());
  runtime::RuntimeOptions ro;
  ro.serve_http = options_.http;
  ro.now = options_.now;
  runtime_ = std::make_unique<runtime::Runtime>(std::move(cfg), std::move(ro));
  runtime_->start();
}

namespace {
int next_token_number() {
  static std::atomic<int> n{0};
  return ++n;
}
}  // namespace

ApiClient::ApiClient(TestServer& server, const std::string& role, std::optional<std::int64_t> person)
    : server_(server),
      token_(
          server.runtime().tokens().create("test-" + role + "-" + std::to_string(next_token_number()), role, person)) {}

ApiReply ApiClient::call(const std::string& method, const std::string& path, const nlohmann::json& body) {
  auto r = server_.request(method, path, body.is_null() ? std::string() : body.dump(),
                           {{"Authorization", "Bearer " + token_}, {"Content-Type", "application/json"}});
  return {r.status, nlohmann::json::parse(r.body, nullptr, false), r.body + r.error};
}

void TestServer::poke_scheduler() {
  runtime_->scheduler().poke();
}

void TestServer::restart() {
  runtime_.reset();
  boot();
}

std::uint16_t TestServer::port() const {
  return runtime_->port();
}

SubmitResult TestServer::submit(InboundMessage message) {
  if (message.adapter_id.empty()) message.adapter_id = "generic";
  if (message.message_id.empty()) message.message_id = "kit-" + crypto::random_hex(8);
  std::promise<SubmitResult> promise;
  auto future = promise.get_future();
  runtime_->pipeline().submit(std::move(message), [&promise](const SubmitResult& r) { promise.set_value(r); });
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready)
    throw std::runtime_error("the pipeline did not answer within 30 s");
  return future.get();
}

std::vector<std::string> TestServer::send(const std::string& sender, const std::string& text, std::string message_id) {
  InboundMessage m;
  m.sender = sender;
  m.text = text;
  m.message_id = std::move(message_id);
  std::vector<std::string> out;
  for (const auto& r : submit(std::move(m)).replies) out.push_back(r.text);
  return out;
}

HttpResult TestServer::request(const std::string& method, const std::string& path, const std::string& body,
                               std::vector<std::pair<std::string, std::string>> headers) {
  ClientRequest req;
  req.method = method;
  req.url = "http://127.0.0.1:" + std::to_string(port()) + path;
  req.body = body;
  req.headers = std::move(headers);
  req.timeout = std::chrono::seconds(30);
  auto res = client_->request(req);
  return HttpResult{res.status, res.body, res.error};
}

HttpResult TestServer::post_webhook(const std::string& body, std::int64_t timestamp) {
  std::vector<std::pair<std::string, std::string>> headers{{"Content-Type", "application/json"}};
  if (!options_.secret.empty()) {
    if (timestamp == 0)
      timestamp =
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    const std::string ts = std::to_string(timestamp);
    headers.emplace_back("X-Villagebot-Timestamp", ts);
    headers.emplace_back("X-Villagebot-Signature",
                         "sha256=" + crypto::to_hex(crypto::hmac_sha256(options_.secret, ts + "." + body)));
  }
  return request("POST", "/hooks/generic", body, std::move(headers));
}

std::int64_t TestServer::count(const std::string& sql) {
  return runtime_->storage().read([&](Session& s) {
    auto rows = s.query(sql);
    return rows.empty() ? std::int64_t{0} : rows[0].integer(0);
  });
}

}  // namespace villagebot::testkit
