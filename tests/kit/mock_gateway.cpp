#include "mock_gateway.hpp"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <future>
#include <latch>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace villagebot::testkit {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kBodyLimit = 1024 * 1024;

struct Conn {
  explicit Conn(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
  tcp::socket socket;
  asio::steady_timer timer;  // the latency wait, cancelled by a crash
  bool killed = false;       // touched only on the connection's strand
  beast::error_code wait_error;
};

// Closes at once with a reset (SO_LINGER 0), as the kernel does for a dead process
// with unread data. Runs on the connection's strand.
void kill(Conn& c) {
  c.killed = true;
  beast::error_code ec;
  c.socket.set_option(asio::socket_base::linger(true, 0), ec);
  c.socket.close(ec);
  c.timer.cancel();
}

template <class Socket>
void reset_socket(Socket& s) {
  beast::error_code ec;
  s.set_option(asio::socket_base::linger(true, 0), ec);
  s.close(ec);
}

enum class Outcome { accept, timeout, error_500, rate_429, reject_400, lost_reply, bad_request, bad_method };

// One request between reading it and answering it.
struct Exchange {
  Outcome outcome = Outcome::accept;
  std::chrono::milliseconds delay{0};
  int retry_after_s = 1;
  bool dedupe = false;
  GatewayMessage message;  // filled for accept and lost_reply
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string string_field(const nlohmann::json& doc, const char* name) {
  const auto it = doc.find(name);
  if (it == doc.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

std::string first_field(const nlohmann::json& doc, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (doc.contains(name) && !doc[name].is_null()) return string_field(doc, name);
  }
  return {};
}

std::string raw_response(int status, std::string_view reason, std::string_view body, bool keep_alive,
                         std::string_view extra_headers = {}) {
  std::string out;
  out.reserve(160 + body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason;
  out += "\r\nServer: villagebot-mock-gateway\r\nContent-Type: application/json\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += keep_alive ? "\r\nConnection: keep-alive\r\n" : "\r\nConnection: close\r\n";
  out += extra_headers;
  out += "\r\n";
  out += body;
  return out;
}

// A uniform draw in [0, 1) that is the same on every standard library (unlike
// std::uniform_real_distribution), so a seed gives the same outcomes everywhere.
double unit(std::mt19937& rng) {
  return static_cast<double>(rng()) / 4294967296.0;
}

}  // namespace

struct MockGateway::Impl {
  explicit Impl(const MockGatewayOptions& options)
      : faults(options.faults), rng(options.seed), port(options.port), acceptor(accept_strand) {}

  // ---- state shared with the test thread (declared before the io_context: see ~MockGateway)
  mutable std::mutex control_mutex;
  GatewayFaults faults;
  std::mt19937 rng;

  mutable std::mutex data_mutex;
  mutable std::condition_variable data_cv;
  std::vector<GatewayMessage> messages;
  std::map<std::string, std::size_t> per_recipient;
  std::map<std::string, std::string> key_ids;  // idempotency key → the first provider id
  std::map<std::string, std::size_t> key_counts;
  std::vector<SteadyClock::time_point> request_times;
  GatewayCounts counts;
  std::uint64_t next_id = 0;

  std::atomic<std::size_t> in_flight{0};
  std::atomic<std::size_t> max_in_flight{0};

  std::mutex conns_mutex;
  std::set<std::shared_ptr<Conn>> conns;

  std::atomic<int> port;
  std::atomic<bool> is_listening{false};
  std::uint64_t generation = 0;  // on accept_strand only

  // ---- network
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  asio::strand<asio::io_context::executor_type> accept_strand{asio::make_strand(ioc)};
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;

  struct InFlight {
    explicit InFlight(Impl& i) : impl(i) {
      const std::size_t now = ++impl.in_flight;
      std::size_t seen = impl.max_in_flight.load();
      while (now > seen && !impl.max_in_flight.compare_exchange_weak(seen, now)) {
      }
    }
    ~InFlight() { --impl.in_flight; }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;
    Impl& impl;
  };

  void start_threads(unsigned n) {
    for (unsigned i = 0; i < std::max(1U, n); ++i) {
      threads.emplace_back([this] {
        pthread_setname_np(pthread_self(), "vb-mockgw");
        ioc.run();
      });
    }
  }

  // Runs f on ex and waits for it; rethrows what f threw.
  template <class Executor, class F>
  static void run_on(const Executor& ex, F&& f) {
    std::promise<void> done;
    asio::dispatch(ex, [&] {
      try {
        f();
        done.set_value();
      } catch (...) {
        done.set_exception(std::current_exception());
      }
    });
    done.get_future().get();
  }

  void open() {
    run_on(accept_strand, [this] {
      if (is_listening) return;
      if (!acceptor.is_open()) bind_port();  // else the port was held since crash(): listen on it again
      acceptor.listen(asio::socket_base::max_listen_connections);
      port = acceptor.local_endpoint().port();
      is_listening = true;
      asio::co_spawn(accept_strand, accept_loop(++generation), asio::detached);
    });
  }

  // Binds the gateway's port (0 the first time: any free port) without listening.
  void bind_port() {
    const tcp::endpoint ep(asio::ip::address_v4::loopback(), static_cast<unsigned short>(port.load()));
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    beast::error_code ec;
    acceptor.bind(ep, ec);
    if (ec) {
      acceptor.close();
      throw std::runtime_error("mock gateway: cannot listen on 127.0.0.1:" + std::to_string(port.load()) + ": " +
                               ec.message());
    }
  }

  // A crashed gateway refuses connections but keeps its port bound (a socket
  // bound and not listening is answered with a reset, like a closed port), so
  // that no other process on the machine takes the port before restart().
  void crash(bool hold_port = true) {
    run_on(accept_strand, [this, hold_port] {
      is_listening = false;
      ++generation;  // the accept loop ends: its acceptor is closed, whatever holds the port now
      beast::error_code ec;
      acceptor.close(ec);
      if (hold_port && port.load() != 0) bind_port();
    });
    // Every connection accepted so far is in conns now (accept_loop inserts on the
    // acceptor's strand, and drops what it accepts after the close).
    std::vector<std::shared_ptr<Conn>> victims;
    {
      std::lock_guard lock(conns_mutex);
      victims.assign(conns.begin(), conns.end());
    }
    std::latch killed(static_cast<std::ptrdiff_t>(victims.size()));
    for (const auto& v : victims) {
      asio::dispatch(v->socket.get_executor(), [v, &killed] {
        kill(*v);
        killed.count_down();
      });
    }
    killed.wait();
  }

  void shutdown() {
    crash(false);
    work.reset();
    for (auto& t : threads) t.join();
    threads.clear();
  }

  asio::awaitable<void> accept_loop(std::uint64_t gen) {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), kUse);
      if (gen != generation || !acceptor.is_open()) {
        // Crashed (and perhaps restarted) meanwhile: this socket belongs to the dead process.
        if (!ec) reset_socket(socket);
        co_return;
      }
      if (ec) {
        asio::steady_timer pause(accept_strand, std::chrono::milliseconds(20));
        co_await pause.async_wait(kUse);
        continue;
      }
      beast::error_code nec;
      socket.set_option(tcp::no_delay(true), nec);
      {
        std::lock_guard lock(data_mutex);
        ++counts.connections;
      }
      spawn_session(std::make_shared<Conn>(std::move(socket)));
    }
  }

  // Not a coroutine: the completion handler captures (GCC 12, see ARCHITECTURE.md).
  void spawn_session(const std::shared_ptr<Conn>& conn) {
    {
      std::lock_guard lock(conns_mutex);
      conns.insert(conn);
    }
    asio::co_spawn(conn->socket.get_executor(), session(conn), [this, conn](const std::exception_ptr&) {
      std::lock_guard lock(conns_mutex);
      conns.erase(conn);
    });
  }

  asio::awaitable<void> session(std::shared_ptr<Conn> c) {
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(kBodyLimit);
      auto [rec, rn] = co_await bhttp::async_read(c->socket, buffer, parser, kUse);
      if (rec || c->killed) break;
      auto req = parser.release();
      const bool keep_alive = req.keep_alive();
      std::optional<InFlight> in_flight_guard;  // until the answer is handed to the socket
      in_flight_guard.emplace(*this);
      Exchange x = prepare(req);
      if (x.outcome == Outcome::timeout) {
        // Never answered: read and drop until the client gives up or we crash.
        std::array<char, 4096> sink{};
        for (;;) {
          auto [hec, hn] = co_await c->socket.async_read_some(asio::buffer(sink), kUse);
          if (hec || c->killed) break;
        }
        break;
      }
      if (x.delay.count() > 0) {
        c->timer.expires_after(x.delay);
        co_await c->timer.async_wait(asio::redirect_error(asio::use_awaitable, c->wait_error));
        if (c->killed) break;  // crashed while "processing": nothing recorded
      }
      const std::string reply = complete(x, keep_alive);
      if (x.outcome == Outcome::lost_reply) {
        kill(*c);
        break;
      }
      in_flight_guard.reset();
      auto [wec, wn] = co_await asio::async_write(c->socket, asio::buffer(reply), kUse);
      if (wec || c->killed || !keep_alive) break;
    }
    if (!c->killed) {
      beast::error_code ec;
      c->socket.shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  // Counts the request once its fate is drawn, so that a test that waited for it
  // may change the faults without changing what happens to it.
  Exchange prepare(bhttp::request<bhttp::string_body>& req) {
    const auto received = SteadyClock::now();
    Exchange x = decide(req, received);
    {
      std::lock_guard lock(data_mutex);
      ++counts.requests;
      request_times.push_back(received);
      if (x.outcome == Outcome::timeout) ++counts.timeouts;
    }
    data_cv.notify_all();
    return x;
  }

  Exchange decide(bhttp::request<bhttp::string_body>& req, SteadyClock::time_point received) {
    Exchange x;
    x.message.received = received;
    x.message.received_wall = std::chrono::system_clock::now();
    if (req.method() != bhttp::verb::post) {
      x.outcome = Outcome::bad_method;
      return x;
    }
    const auto doc = nlohmann::json::parse(req.body(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      x.outcome = Outcome::bad_request;
      return x;
    }
    GatewayMessage& m = x.message;
    m.recipient = first_field(doc, {"to", "recipient", "address", "chat", "sender"});
    m.text = string_field(doc, "text");
    m.idempotency_key = std::string(req["Idempotency-Key"]);
    if (m.idempotency_key.empty()) m.idempotency_key = first_field(doc, {"idempotency_key", "message_id"});
    m.target = std::string(req.target());
    for (const auto& f : req) m.headers.emplace(lower(f.name_string()), std::string(f.value()));
    m.body = std::move(req.body());

    std::lock_guard lock(control_mutex);
    const double u = unit(rng);
    const auto jitter = faults.jitter.count() > 0
                            ? std::chrono::milliseconds(rng() % static_cast<std::uint32_t>(faults.jitter.count() + 1))
                            : std::chrono::milliseconds(0);
    x.delay = faults.latency + jitter;
    x.retry_after_s = faults.retry_after_s;
    x.dedupe = faults.dedupe_by_idempotency_key;
    double band = faults.timeout_rate;
    if (u < band) {
      x.outcome = Outcome::timeout;
    } else if (u < (band += faults.error_rate_500)) {
      x.outcome = Outcome::error_500;
    } else if (u < (band += faults.rate_429)) {
      x.outcome = Outcome::rate_429;
    } else if (u < (band += faults.permanent_error_rate_400)) {
      x.outcome = Outcome::reject_400;
    } else if (u < (band += faults.lost_reply_rate)) {
      x.outcome = Outcome::lost_reply;
    }
    return x;
  }

  // Records what the outcome records and returns the raw answer (empty for a lost reply).
  std::string complete(Exchange& x, bool keep_alive) {
    std::unique_lock lock(data_mutex);
    switch (x.outcome) {
      case Outcome::timeout:
        return {};
      case Outcome::bad_method:
        ++counts.rejected_400;
        return raw_response(405, "Method Not Allowed",
                            R"({"error":"method_not_allowed","reason":"the mock gateway takes POST only"})", keep_alive,
                            "Allow: POST\r\n");
      case Outcome::bad_request:
        ++counts.rejected_400;
        return raw_response(400, "Bad Request", R"({"error":"bad_request","reason":"the body must be a JSON object"})",
                            keep_alive);
      case Outcome::error_500:
        ++counts.errors_500;
        return raw_response(500, "Internal Server Error", R"({"error":"internal"})", keep_alive);
      case Outcome::rate_429:
        ++counts.rate_limited_429;
        return raw_response(429, "Too Many Requests", R"({"error":"rate_limited"})", keep_alive,
                            "Retry-After: " + std::to_string(x.retry_after_s) + "\r\n");
      case Outcome::reject_400:
        ++counts.rejected_400;
        return raw_response(400, "Bad Request",
                            R"({"error":"rejected","reason":"mock permanent error: recipient rejected"})", keep_alive);
      case Outcome::accept:
      case Outcome::lost_reply:
        break;
    }
    GatewayMessage& m = x.message;
    std::string id;
    const auto known = m.idempotency_key.empty() ? key_ids.end() : key_ids.find(m.idempotency_key);
    if (x.dedupe && known != key_ids.end()) {
      ++counts.deduplicated;
      id = known->second;
    } else {
      id = "mock-" + std::to_string(++next_id);
      m.provider_id = id;
      if (!m.idempotency_key.empty()) {
        key_ids.emplace(m.idempotency_key, id);
        ++key_counts[m.idempotency_key];
      }
      ++per_recipient[m.recipient];
      ++counts.accepted;
      messages.push_back(std::move(m));
    }
    if (x.outcome == Outcome::lost_reply) ++counts.lost_replies;
    lock.unlock();
    data_cv.notify_all();
    if (x.outcome == Outcome::lost_reply) return {};
    return raw_response(200, "OK", R"({"id":")" + id + R"("})", keep_alive);
  }
};

MockGateway::MockGateway() : MockGateway(MockGatewayOptions{}) {}

MockGateway::MockGateway(MockGatewayOptions options) : impl_(std::make_unique<Impl>(options)) {
  impl_->start_threads(options.threads);
  try {
    impl_->open();
  } catch (...) {
    impl_->shutdown();
    throw;
  }
}

MockGateway::~MockGateway() {
  // Every session ends before the threads are joined, so nothing is left in the
  // io_context when Impl (and the state declared before it) is destroyed.
  impl_->shutdown();
}

int MockGateway::port() const {
  return impl_->port.load();
}

std::string MockGateway::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port()) + path;
}

void MockGateway::set_faults(const GatewayFaults& faults) {
  std::lock_guard lock(impl_->control_mutex);
  impl_->faults = faults;
}

GatewayFaults MockGateway::faults() const {
  std::lock_guard lock(impl_->control_mutex);
  return impl_->faults;
}

void MockGateway::set_latency(std::chrono::milliseconds latency, std::chrono::milliseconds jitter) {
  std::lock_guard lock(impl_->control_mutex);
  impl_->faults.latency = latency;
  impl_->faults.jitter = jitter;
}

void MockGateway::set_error_rate_500(double rate) {
  std::lock_guard lock(impl_->control_mutex);
  impl_->faults.error_rate_500 = rate;
}

void MockGateway::set_timeout_rate(double rate) {
  std::lock_guard lock(impl_->control_mutex);
  impl_->faults.timeout_rate = rate;
}

void MockGateway::set_rate_429(double rate, int retry_after_s) {
  std::lock_guard lock(impl_->control_mutex);
  impl_->faults.rate_429 = rate;
  impl_->faults.retry_after_s = retry_after_s;
}

void MockGateway::set_permanent_error_rate_400(double rate) {
  std::lock_guard lock(impl_->control_mutex);
  impl_->faults.permanent_error_rate_400 = rate;
}

void MockGateway::set_lost_reply_rate(double rate) {
  std::lock_guard lock(impl_->control_mutex);
  impl_->faults.lost_reply_rate = rate;
}

void MockGateway::set_dedupe_by_idempotency_key(bool on) {
  std::lock_guard lock(impl_->control_mutex);
  impl_->faults.dedupe_by_idempotency_key = on;
}

void MockGateway::set_seed(std::uint32_t seed) {
  std::lock_guard lock(impl_->control_mutex);
  impl_->rng.seed(seed);
}

void MockGateway::crash() {
  impl_->crash();
}

void MockGateway::restart() {
  impl_->open();
}

bool MockGateway::listening() const {
  return impl_->is_listening.load();
}

std::size_t MockGateway::accepted() const {
  std::lock_guard lock(impl_->data_mutex);
  return impl_->counts.accepted;
}

std::size_t MockGateway::accepted_for(const std::string& recipient) const {
  std::lock_guard lock(impl_->data_mutex);
  const auto it = impl_->per_recipient.find(recipient);
  return it == impl_->per_recipient.end() ? 0 : it->second;
}

std::map<std::string, std::size_t> MockGateway::recipients() const {
  std::lock_guard lock(impl_->data_mutex);
  return impl_->per_recipient;
}

std::vector<GatewayMessage> MockGateway::messages() const {
  std::lock_guard lock(impl_->data_mutex);
  return impl_->messages;
}

std::size_t MockGateway::requests_total() const {
  std::lock_guard lock(impl_->data_mutex);
  return impl_->counts.requests;
}

GatewayCounts MockGateway::counts() const {
  std::lock_guard lock(impl_->data_mutex);
  return impl_->counts;
}

std::map<std::string, std::size_t> MockGateway::duplicates() const {
  std::lock_guard lock(impl_->data_mutex);
  std::map<std::string, std::size_t> out;
  for (const auto& [recipient, n] : impl_->per_recipient)
    if (n > 1) out.emplace(recipient, n);
  return out;
}

std::map<std::string, std::size_t> MockGateway::duplicate_keys() const {
  std::lock_guard lock(impl_->data_mutex);
  std::map<std::string, std::size_t> out;
  for (const auto& [key, n] : impl_->key_counts)
    if (n > 1) out.emplace(key, n);
  return out;
}

bool MockGateway::wait_for_accepted(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->data_mutex);
  return impl_->data_cv.wait_for(lock, timeout, [&] { return impl_->counts.accepted >= n; });
}

bool MockGateway::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->data_mutex);
  return impl_->data_cv.wait_for(lock, timeout, [&] { return impl_->counts.requests >= n; });
}

double MockGateway::rate_over(std::chrono::milliseconds window) const {
  if (window.count() <= 0) return 0;
  const auto since = SteadyClock::now() - window;
  std::lock_guard lock(impl_->data_mutex);
  const auto n = std::count_if(impl_->messages.begin(), impl_->messages.end(),
                               [&](const GatewayMessage& m) { return m.received >= since; });
  return static_cast<double>(n) * 1000.0 / static_cast<double>(window.count());
}

std::vector<SteadyClock::time_point> MockGateway::request_times() const {
  std::lock_guard lock(impl_->data_mutex);
  return impl_->request_times;
}

std::size_t MockGateway::max_requests_in_window(std::chrono::milliseconds window) const {
  std::vector<SteadyClock::time_point> times = request_times();
  std::sort(times.begin(), times.end());
  std::size_t best = 0;
  std::size_t first = 0;
  for (std::size_t last = 0; last < times.size(); ++last) {
    while (times[last] - times[first] >= window) ++first;
    best = std::max(best, last - first + 1);
  }
  return best;
}

std::size_t MockGateway::in_flight() const {
  return impl_->in_flight.load();
}

std::size_t MockGateway::max_in_flight() const {
  return impl_->max_in_flight.load();
}

void MockGateway::reset() {
  {
    std::lock_guard lock(impl_->data_mutex);
    impl_->messages.clear();
    impl_->per_recipient.clear();
    impl_->key_ids.clear();
    impl_->key_counts.clear();
    impl_->request_times.clear();
    impl_->counts = {};
  }
  impl_->max_in_flight = impl_->in_flight.load();
}

}  // namespace villagebot::testkit
