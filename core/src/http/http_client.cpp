#include "http/http_client.hpp"

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace villagebot::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

struct BeastHttpClient::Connection {
  asio::io_context ioc{1};
  beast::tcp_stream stream{ioc};
  steady::time_point idle_since{};
};

namespace {

struct Url {
  std::string host;
  std::string port;
  std::string target;
};

std::optional<Url> parse_url(const std::string& url, std::string& error) {
  constexpr std::string_view kHttp = "http://";
  if (url.compare(0, kHttp.size(), kHttp) != 0) {
    error = "only http:// URLs are supported by this build: " + url;
    return std::nullopt;
  }
  Url u;
  const std::string rest = url.substr(kHttp.size());
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos) {
      error = "bad URL: " + url;
      return std::nullopt;
    }
    u.host = authority.substr(1, close - 1);
    u.port = close + 1 < authority.size() && authority[close + 1] == ':' ? authority.substr(close + 2) : "80";
  } else {
    const auto colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    u.port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  }
  const bool numeric_port = !u.port.empty() && u.port.size() <= 5 &&
                            std::all_of(u.port.begin(), u.port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (u.host.empty() || !numeric_port || std::stoul(u.port) == 0 || std::stoul(u.port) > 65535) {
    error = "bad URL: " + url;
    return std::nullopt;
  }
  return u;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Sending it twice does no harm: an idempotent method, or a key the gateway
// deduplicates by (the delivery engine sets one on every message).
bool replayable(const ClientRequest& r) {
  for (const char* m : {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
    if (r.method == m) return true;
  return std::any_of(r.headers.begin(), r.headers.end(), [](const auto& h) {
    return iequals(h.first, "Idempotency-Key") || iequals(h.first, "X-Idempotency-Key");
  });
}

bool asks_to_close(const ClientRequest& r) {
  return std::any_of(r.headers.begin(), r.headers.end(),
                     [](const auto& h) { return iequals(h.first, "Connection") && iequals(h.second, "close"); });
}

// A pooled connection the server has closed (or written to unasked) is
// readable while idle: not worth a request.
bool still_usable(tcp::socket& socket) {
  pollfd p{socket.native_handle(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

// How one exchange ended, beyond the response itself.
struct Exchange {
  bool connect_failed = false;
  bool write_failed = false;
  bool closed_before_answer = false;  // EOF before the first byte of a response
  bool reusable = false;
};

}  // namespace

BeastHttpClient::BeastHttpClient() : BeastHttpClient(HttpClientOptions{}) {}

BeastHttpClient::BeastHttpClient(std::size_t response_limit)
    : BeastHttpClient(HttpClientOptions{.response_limit = response_limit}) {}

BeastHttpClient::BeastHttpClient(HttpClientOptions options) : options_(options) {}

BeastHttpClient::~BeastHttpClient() = default;

BeastHttpClient::Stats BeastHttpClient::stats() {
  std::lock_guard lock(mutex_);
  Stats s = stats_;
  s.idle = 0;
  for (const auto& [key, list] : idle_) s.idle += list.size();
  return s;
}

std::unique_ptr<BeastHttpClient::Connection> BeastHttpClient::take(const std::string& key) {
  std::unique_ptr<Connection> found;
  {
    std::lock_guard lock(mutex_);
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    auto& list = it->second;
    const auto now = steady::now();
    // The newest is the least likely to have been closed by the server.
    while (!list.empty()) {
      auto c = std::move(list.back());
      list.pop_back();
      if (now - c->idle_since < options_.idle_timeout) {
        found = std::move(c);
        break;
      }
    }
  }
  if (found && !still_usable(found->stream.socket())) found.reset();
  return found;
}

void BeastHttpClient::give_back(const std::string& key, std::unique_ptr<Connection> connection) {
  connection->idle_since = steady::now();
  std::unique_ptr<Connection> dropped;
  std::vector<std::unique_ptr<Connection>> expired;
  {
    std::lock_guard lock(mutex_);
    auto& list = idle_[key];
    // The oldest are at the front: close those past the idle timeout.
    auto first_fresh = std::find_if(list.begin(), list.end(), [&](const auto& c) {
      return connection->idle_since - c->idle_since < options_.idle_timeout;
    });
    std::move(list.begin(), first_fresh, std::back_inserter(expired));
    list.erase(list.begin(), first_fresh);
    if (list.size() < options_.max_idle_per_host)
      list.push_back(std::move(connection));
    else
      dropped = std::move(connection);
  }
  // Sockets are closed outside the lock.
}

ClientResponse BeastHttpClient::request(const ClientRequest& request) {
  ClientResponse out;
  auto url = parse_url(request.url, out.error);
  if (!url) return out;
  const std::string key = url->host + ":" + url->port;
  const auto deadline = steady::now() + request.timeout;
  const bool keep = options_.max_idle_per_host > 0 && !asks_to_close(request);

  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(request.method), url->target, 11};
  req.set(bhttp::field::host, url->host);
  req.set(bhttp::field::user_agent, "villagebot");
  for (const auto& [k, v] : request.headers) req.set(k, v);
  if (!keep) req.keep_alive(false);
  req.body() = request.body;
  req.prepare_payload();

  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<Connection> conn = keep ? take(key) : nullptr;
    const bool reused = conn != nullptr;
    if (!conn) conn = std::make_unique<Connection>();
    {
      std::lock_guard lock(mutex_);
      ++stats_.requests;
      if (reused)
        ++stats_.reused;
      else
        ++stats_.connections_opened;
    }
    out = ClientResponse{};
    Exchange x;
    auto fail = [&](std::string_view what, const beast::error_code& ec) {
      out.error = std::string(what) + ": " + (ec == beast::error::timeout ? std::string("timed out") : ec.message());
    };
    auto& stream = conn->stream;
    auto exchange = [&]() -> asio::awaitable<void> {
      constexpr auto use = asio::as_tuple(asio::use_awaitable);
      stream.expires_at(deadline);
      if (!reused) {
        beast::error_code aec;
        const auto address = asio::ip::make_address(url->host, aec);
        if (!aec) {
          // An IP literal (the usual gateway on a LAN or loopback): no resolver.
          auto [cec] = co_await stream.async_connect(
              tcp::endpoint(address, static_cast<unsigned short>(std::stoul(url->port))), use);
          if (cec) {
            x.connect_failed = true;
            co_return fail("cannot connect to " + url->host + ":" + url->port, cec);
          }
        } else {
          // getaddrinfo on the caller's thread: no resolver thread per connection.
          tcp::resolver resolver(conn->ioc);
          beast::error_code rec;
          auto endpoints = resolver.resolve(url->host, url->port, rec);
          if (rec) {
            x.connect_failed = true;
            co_return fail("cannot resolve " + url->host, rec);
          }
          auto [cec, ep] = co_await stream.async_connect(endpoints, use);
          if (cec) {
            x.connect_failed = true;
            co_return fail("cannot connect to " + url->host + ":" + url->port, cec);
          }
        }
        beast::error_code ignored;
        stream.socket().set_option(tcp::no_delay(true), ignored);
      }
      auto [wec, wn] = co_await bhttp::async_write(stream, req, use);
      if (wec) {
        x.write_failed = true;
        co_return fail("cannot send the request", wec);
      }
      beast::flat_buffer buffer;
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(options_.response_limit);
      if (req.method() == bhttp::verb::head) parser.skip(true);
      auto [hec, hn] = co_await bhttp::async_read(stream, buffer, parser, use);
      if (hec) {
        x.closed_before_answer = hec == bhttp::error::end_of_stream;
        co_return fail("no valid response", hec);
      }
      auto res = parser.release();
      out.status = static_cast<int>(res.result_int());
      out.body = std::move(res.body());
      for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      // Reusable when both sides keep it open and nothing unasked-for follows.
      x.reusable = keep && res.keep_alive() && buffer.size() == 0;
      stream.expires_never();
    };
    conn->ioc.restart();
    asio::co_spawn(conn->ioc, exchange(), [&](const std::exception_ptr& e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        out.error = ex.what();
      }
    });
    conn->ioc.run();
    if (x.reusable && out.error.empty()) {
      give_back(key, std::move(conn));
      return out;
    }
    if (out.error.empty()) {
      beast::error_code ec;
      stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      return out;
    }
    // A kept-alive connection the server had closed meanwhile: the request
    // never reached it, or it closed without a word. Once more on a new one.
    const bool stale = reused && (x.write_failed || (x.closed_before_answer && replayable(request)));
    if (!stale || steady::now() >= deadline) return out;
  }
  return out;
}

}  // namespace villagebot::http
