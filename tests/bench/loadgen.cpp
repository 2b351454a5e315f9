// Closed-loop HTTP/1.1 keep-alive load generator: each connection sends a request,
// waits for the whole response, and sends the next. Only events inside the measured
// window (after --warmup, before the end of --duration) count towards the figures.
//
// Usage:
//   vb_loadgen --url http://127.0.0.1:PORT/path [--connections 64] [--duration 10]
//              [--warmup 2] [--threads 1] [--method POST] [--body TEMPLATE]
//              [--senders FILE | --sender-range FIRST:LAST] [--n-start 1]
//              [--header "Name: value"]... [--max-requests N] [--timeout 10]
//              [--signature-secret SECRET] [--json]
// In --body, {n} becomes a counter unique to each request (starting at --n-start) and
// {sender} the next sender, round-robin; both are inserted verbatim.
// Exit status: 0 when at least one request completed in the window, 1 otherwise,
// 2 on a usage error.

// GCC 12 at -O2 reports "potential null pointer dereference" inside Asio's own
// scheduler and strand comparison once they are inlined here; system-header
// suppression does not reach inlined code, and the pragma must cover the caller.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// In-flight requests may finish this long after the window closes; later ones are cut.
constexpr std::chrono::seconds kDrainGrace{1};
constexpr std::chrono::milliseconds kReconnectBackoff{50};

struct Options {
  std::string url;
  unsigned connections = 64;
  double duration_s = 10;
  double warmup_s = 2;
  unsigned threads = 1;
  std::optional<std::string> method;
  std::optional<std::string> body;
  std::optional<std::string> senders_file;
  std::optional<std::string> sender_range;
  std::uint64_t n_start = 1;
  std::vector<std::pair<std::string, std::string>> headers;
  std::uint64_t max_requests = 0;  // 0: no limit
  double timeout_s = 10;
  std::optional<std::string> signature_secret;
  bool json = false;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "vb_loadgen: " << message << "\n"
            << "usage: vb_loadgen --url http://HOST:PORT/PATH [--connections N] [--duration S]\n"
            << "       [--warmup S] [--threads N] [--method M] [--body TEMPLATE]\n"
            << "       [--senders FILE | --sender-range FIRST:LAST] [--n-start N]\n"
            << "       [--header 'Name: value']... [--max-requests N] [--timeout S]\n"
            << "       [--signature-secret SECRET] [--json]\n";
  std::exit(2);
}

template <typename T>
T parse_number(std::string_view name, std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    usage_error(std::string(name) + " expects a number, got '" + std::string(text) + "'");
  }
  return value;
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

std::pair<std::string, std::string> parse_header(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || trim(text.substr(0, colon)).empty()) {
    usage_error("--header expects 'Name: value', got '" + std::string(text) + "'");
  }
  return {std::string(trim(text.substr(0, colon))), std::string(trim(text.substr(colon + 1)))};
}

Options parse_options(int argc, char** argv) {
  Options o;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::optional<std::string_view> inline_value;
    if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      inline_value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    if (arg == "--help" || arg == "-h") {
      usage_error("help requested");
    }
    if (arg == "--json") {
      o.json = true;
      continue;
    }
    if (!inline_value && i + 1 >= args.size()) {
      usage_error("unknown option or missing value: " + std::string(arg));
    }
    const std::string_view v = inline_value ? *inline_value : args[++i];
    if (arg == "--url") {
      o.url = std::string(v);
    } else if (arg == "--connections") {
      o.connections = parse_number<unsigned>(arg, v);
    } else if (arg == "--duration") {
      o.duration_s = parse_number<double>(arg, v);
    } else if (arg == "--warmup") {
      o.warmup_s = parse_number<double>(arg, v);
    } else if (arg == "--threads") {
      o.threads = parse_number<unsigned>(arg, v);
    } else if (arg == "--method") {
      o.method = std::string(v);
    } else if (arg == "--body") {
      o.body = std::string(v);
    } else if (arg == "--senders") {
      o.senders_file = std::string(v);
    } else if (arg == "--sender-range") {
      o.sender_range = std::string(v);
    } else if (arg == "--n-start") {
      o.n_start = parse_number<std::uint64_t>(arg, v);
    } else if (arg == "--header") {
      o.headers.push_back(parse_header(v));
    } else if (arg == "--max-requests") {
      o.max_requests = parse_number<std::uint64_t>(arg, v);
    } else if (arg == "--timeout") {
      o.timeout_s = parse_number<double>(arg, v);
    } else if (arg == "--signature-secret") {
      o.signature_secret = std::string(v);
    } else {
      usage_error("unknown option: " + std::string(arg));
    }
  }
  if (o.url.empty()) {
    usage_error("--url is required");
  }
  if (o.connections == 0 || o.threads == 0) {
    usage_error("--connections and --threads must be at least 1");
  }
  if (!(o.duration_s > 0) || o.warmup_s < 0 || !(o.timeout_s > 0)) {
    usage_error("--duration and --timeout must be positive, --warmup not negative");
  }
  if (o.senders_file && o.sender_range) {
    usage_error("give either --senders or --sender-range, not both");
  }
  return o;
}

struct Url {
  std::string host;
  std::string port;
  std::string target;
};

Url parse_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) {
    usage_error("--url must start with http:// (got '" + std::string(url) + "')");
  }
  url.remove_prefix(kScheme.size());
  const auto slash = url.find('/');
  const std::string_view authority = url.substr(0, slash);
  Url result;
  result.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  const auto colon = authority.rfind(':');
  if (colon == std::string_view::npos) {
    result.host = std::string(authority);
    result.port = "80";
  } else {
    result.host = std::string(authority.substr(0, colon));
    result.port = std::string(authority.substr(colon + 1));
  }
  if (result.host.empty() || result.port.empty()) {
    usage_error("--url has no host or port: '" + std::string(url) + "'");
  }
  return result;
}

std::vector<std::string> load_senders(const Options& o) {
  std::vector<std::string> senders;
  if (o.senders_file) {
    std::ifstream in(*o.senders_file);
    if (!in) {
      usage_error("cannot read --senders file " + *o.senders_file);
    }
    for (std::string line; std::getline(in, line);) {
      if (const auto sender = trim(line); !sender.empty()) {
        senders.emplace_back(sender);
      }
    }
    if (senders.empty()) {
      usage_error("--senders file " + *o.senders_file + " has no senders");
    }
  } else if (o.sender_range) {
    const std::string_view range = *o.sender_range;
    const auto colon = range.find(':');
    if (colon == std::string_view::npos) {
      usage_error("--sender-range expects FIRST:LAST");
    }
    const auto first = parse_number<std::uint64_t>("--sender-range", range.substr(0, colon));
    const auto last = parse_number<std::uint64_t>("--sender-range", range.substr(colon + 1));
    if (last < first || last - first >= 10'000'000) {
      usage_error("--sender-range must run upwards and hold fewer than 10 million senders");
    }
    for (std::uint64_t phone = first; phone <= last; ++phone) {
      senders.push_back(std::to_string(phone));
    }
  }
  return senders;
}

// The body template, split once so that each request is a few appends.
class BodyTemplate {
 public:
  BodyTemplate(std::string_view text, std::vector<std::string> senders) : senders_(std::move(senders)) {
    static constexpr std::string_view kN = "{n}";
    static constexpr std::string_view kSender = "{sender}";
    std::string literal;
    while (!text.empty()) {
      if (text.starts_with(kN)) {
        push_literal(literal);
        parts_.push_back({Kind::counter, {}});
        text.remove_prefix(kN.size());
      } else if (text.starts_with(kSender)) {
        push_literal(literal);
        parts_.push_back({Kind::sender, {}});
        text.remove_prefix(kSender.size());
        uses_sender_ = true;
      } else {
        literal.push_back(text.front());
        text.remove_prefix(1);
      }
    }
    push_literal(literal);
  }

  [[nodiscard]] bool uses_sender() const { return uses_sender_; }
  [[nodiscard]] bool has_senders() const { return !senders_.empty(); }

  [[nodiscard]] std::string render(std::uint64_t n, std::uint64_t sequence) const {
    std::string out;
    for (const auto& part : parts_) {
      switch (part.kind) {
        case Kind::literal:
          out += part.text;
          break;
        case Kind::counter:
          out += std::to_string(n);
          break;
        case Kind::sender:
          out += senders_[sequence % senders_.size()];
          break;
      }
    }
    return out;
  }

 private:
  enum class Kind { literal, counter, sender };
  struct Part {
    Kind kind;
    std::string text;
  };

  void push_literal(std::string& literal) {
    if (!literal.empty()) {
      parts_.push_back({Kind::literal, std::move(literal)});
      literal.clear();
    }
  }

  std::vector<Part> parts_;
  std::vector<std::string> senders_;
  bool uses_sender_ = false;
};

std::string hmac_sha256_hex(std::string_view secret, std::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0x0f]);
  }
  return hex;
}

// Everything the connections read and never change during the run.
struct Plan {
  Url url;
  tcp::resolver::results_type endpoints;
  http::verb method = http::verb::get;
  std::optional<BodyTemplate> body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool has_content_type = false;
  std::optional<std::string> signature_secret;
  std::uint64_t max_requests = 0;
  Clock::duration timeout{};
  Clock::time_point warmup_end;
  Clock::time_point deadline;
};

struct Shared {
  std::atomic<std::uint64_t> next_n;
  std::atomic<std::uint64_t> sequence{0};
  std::atomic<std::uint64_t> measured_started{0};
};

// Owned by one connection (one strand), so recording needs no locks.
struct ConnectionStats {
  std::vector<std::int64_t> latencies_ns;
  std::uint64_t non2xx = 0;
  std::uint64_t errors = 0;
  Clock::time_point last_completion{};
};

bool in_window(const Plan& plan, Clock::time_point t) {
  return t >= plan.warmup_end && t <= plan.deadline;
}

http::request<http::string_body> make_request(const Plan& plan, Shared& shared) {
  http::request<http::string_body> request{plan.method, plan.url.target, 11};
  request.set(http::field::host, plan.url.host + ':' + plan.url.port);
  request.set(http::field::user_agent, "vb_loadgen");
  request.keep_alive(true);  // before --header, so that "Connection: close" can win
  if (plan.body) {
    const std::uint64_t n = shared.next_n.fetch_add(1, std::memory_order_relaxed);
    const std::uint64_t sequence = shared.sequence.fetch_add(1, std::memory_order_relaxed);
    request.body() = plan.body->render(n, sequence);
    if (!plan.has_content_type) {
      request.set(http::field::content_type, "application/json");
    }
  }
  for (const auto& [name, value] : plan.headers) {
    request.set(name, value);
  }
  if (plan.signature_secret) {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const std::string timestamp = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now).count());
    const std::string signed_text = timestamp + '.' + request.body();
    request.set("X-Villagebot-Timestamp", timestamp);
    request.set("X-Villagebot-Signature", "sha256=" + hmac_sha256_hex(*plan.signature_secret, signed_text));
  }
  request.prepare_payload();
  return request;
}

asio::awaitable<void> run_connection(const Plan& plan, Shared& shared, ConnectionStats& stats) {
  const auto executor = co_await asio::this_coro::executor;
  beast::tcp_stream stream{executor};
  asio::steady_timer backoff{executor};
  beast::flat_buffer buffer;
  bool connected = false;

  // Every operation ends by the time the window has closed plus a grace period,
  // so that a stalled server cannot hold the run open.
  const auto expire = [&] { stream.expires_at(std::min(Clock::now() + plan.timeout, plan.deadline + kDrainGrace)); };
  const auto fail = [&] {
    if (in_window(plan, Clock::now())) {
      ++stats.errors;
    }
    beast::error_code ignored;
    stream.socket().close(ignored);
    connected = false;
  };

  while (Clock::now() < plan.deadline) {
    if (!connected) {
      expire();
      const auto [ec, endpoint] = co_await stream.async_connect(plan.endpoints, kTuple);
      if (ec) {
        fail();
        backoff.expires_after(kReconnectBackoff);
        co_await backoff.async_wait(kTuple);
        continue;
      }
      stream.socket().set_option(tcp::no_delay(true));
      buffer.clear();
      connected = true;
    }

    const bool measured = Clock::now() >= plan.warmup_end;
    if (measured && plan.max_requests != 0 &&
        shared.measured_started.fetch_add(1, std::memory_order_relaxed) >= plan.max_requests) {
      break;
    }
    auto request = make_request(plan, shared);

    // Latency covers the wire exchange only, not building or signing the request.
    const auto started = Clock::now();
    expire();
    const auto [write_ec, written] = co_await http::async_write(stream, request, kTuple);
    if (write_ec) {
      fail();
      continue;
    }
    http::response<http::string_body> response;
    const auto [read_ec, read] = co_await http::async_read(stream, buffer, response, kTuple);
    if (read_ec) {
      fail();
      continue;
    }
    const auto finished = Clock::now();

    if (started >= plan.warmup_end && finished <= plan.deadline) {
      stats.latencies_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(finished - started).count());
      const unsigned status = response.result_int();
      if (status < 200 || status > 299) {
        ++stats.non2xx;
      }
      stats.last_completion = finished;
    }
    if (response.need_eof()) {
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream.socket().close(ignored);
      connected = false;
    }
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.socket().close(ignored);
}

struct Figures {
  std::uint64_t requests = 0;
  double duration_s = 0;
  double rps = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  std::uint64_t non2xx = 0;
  std::uint64_t errors = 0;
};

Figures summarise(const Plan& plan, const Shared& shared, std::vector<ConnectionStats>& stats) {
  Figures f;
  std::vector<std::int64_t> all;
  Clock::time_point last_completion = plan.warmup_end;
  for (auto& s : stats) {
    all.insert(all.end(), s.latencies_ns.begin(), s.latencies_ns.end());
    f.non2xx += s.non2xx;
    f.errors += s.errors;
    last_completion = std::max(last_completion, s.last_completion);
  }
  std::sort(all.begin(), all.end());
  f.requests = all.size();

  // A run cut short by --max-requests is timed to its last response.
  const bool stopped_early = plan.max_requests != 0 && shared.measured_started.load() >= plan.max_requests;
  const auto end = stopped_early ? std::min(last_completion, plan.deadline) : plan.deadline;
  f.duration_s = std::chrono::duration<double>(end - plan.warmup_end).count();
  f.rps = f.duration_s > 0 ? static_cast<double>(f.requests) / f.duration_s : 0;

  const auto percentile_ms = [&all](double p) {
    if (all.empty()) {
      return 0.0;
    }
    // Nearest rank: the smallest latency with at least p of the samples at or below it.
    auto rank = static_cast<std::size_t>(p * static_cast<double>(all.size()) + 0.999999999);
    rank = std::clamp<std::size_t>(rank, 1, all.size());
    return static_cast<double>(all[rank - 1]) / 1e6;
  };
  f.p50_ms = percentile_ms(0.50);
  f.p99_ms = percentile_ms(0.99);
  f.max_ms = all.empty() ? 0.0 : static_cast<double>(all.back()) / 1e6;
  return f;
}

void print(const Figures& f, bool json) {
  std::ostringstream out;
  out << std::fixed;
  if (json) {
    out << std::setprecision(3) << "{\"requests\":" << f.requests << ",\"duration_s\":" << f.duration_s
        << ",\"rps\":" << std::setprecision(1) << f.rps << std::setprecision(3) << ",\"p50_ms\":" << f.p50_ms
        << ",\"p99_ms\":" << f.p99_ms << ",\"max_ms\":" << f.max_ms << ",\"non2xx\":" << f.non2xx
        << ",\"errors\":" << f.errors << "}\n";
  } else {
    out << std::setprecision(3) << "requests=" << f.requests << "\n"
        << "duration_s=" << f.duration_s << "\n"
        << std::setprecision(1) << "rps=" << f.rps << "\n"
        << std::setprecision(3) << "p50_ms=" << f.p50_ms << "\n"
        << "p99_ms=" << f.p99_ms << "\n"
        << "max_ms=" << f.max_ms << "\n"
        << "non2xx=" << f.non2xx << "\n"
        << "errors=" << f.errors << "\n";
  }
  std::cout << out.str() << std::flush;
}

Plan make_plan(const Options& o, asio::io_context& ioc) {
  Plan plan;
  plan.url = parse_url(o.url);
  tcp::resolver resolver{ioc};
  beast::error_code ec;
  plan.endpoints = resolver.resolve(plan.url.host, plan.url.port, ec);
  if (ec) {
    usage_error("cannot resolve " + plan.url.host + ":" + plan.url.port + ": " + ec.message());
  }
  if (o.body) {
    plan.body.emplace(*o.body, load_senders(o));
    if (plan.body->uses_sender() && !plan.body->has_senders()) {
      usage_error("--body uses {sender}; give --senders FILE or --sender-range FIRST:LAST");
    }
  }
  const std::string method = o.method.value_or(o.body ? "POST" : "GET");
  plan.method = http::string_to_verb(method);
  if (plan.method == http::verb::unknown) {
    usage_error("unknown --method " + method);
  }
  plan.headers = o.headers;
  plan.has_content_type = std::any_of(o.headers.begin(), o.headers.end(),
                                      [](const auto& h) { return beast::iequals(h.first, "content-type"); });
  plan.signature_secret = o.signature_secret;
  plan.max_requests = o.max_requests;
  plan.timeout = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout_s));
  return plan;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  try {
    asio::io_context ioc{static_cast<int>(options.threads)};
    Plan plan = make_plan(options, ioc);
    Shared shared;
    shared.next_n.store(options.n_start);
    std::vector<ConnectionStats> stats(options.connections);

    const auto start = Clock::now();
    const auto to_clock = [](double seconds) {
      return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    };
    plan.warmup_end = start + to_clock(options.warmup_s);
    plan.deadline = plan.warmup_end + to_clock(options.duration_s);

    std::mutex failure_mutex;
    std::exception_ptr failure;
    for (auto& connection_stats : stats) {
      connection_stats.latencies_ns.reserve(4096);
      asio::co_spawn(asio::make_strand(ioc), run_connection(plan, shared, connection_stats), [&](std::exception_ptr e) {
        if (e) {
          const std::lock_guard lock{failure_mutex};
          failure = e;
          ioc.stop();
        }
      });
    }

    std::vector<std::thread> workers;
    workers.reserve(options.threads - 1);
    for (unsigned i = 1; i < options.threads; ++i) {
      workers.emplace_back([&ioc] { ioc.run(); });
    }
    ioc.run();
    for (auto& worker : workers) {
      worker.join();
    }
    if (failure) {
      std::rethrow_exception(failure);
    }

    const Figures figures = summarise(plan, shared, stats);
    print(figures, options.json);
    return figures.requests > 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "vb_loadgen: " << e.what() << "\n";
    return 1;
  }
}
