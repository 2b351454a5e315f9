#include "http/http_client.hpp"

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include <cstdlib>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "villagebot/crypto.hpp"

namespace villagebot::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace ssl = asio::ssl;

struct BeastHttpClient::Tls {
  ssl::context context{ssl::context::tls_client};
  std::string error;  // the CA file could not be loaded: every https request says so
};

struct BeastHttpClient::Connection {
  asio::io_context ioc{1};
  beast::tcp_stream plain{ioc};                             // http://
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;  // https://
  steady::time_point idle_since{};
  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : plain; }
};

namespace {

struct Url {
  bool https = false;
  std::string host;
  std::string port;
  std::string target;
};

std::optional<Url> parse_url(const std::string& url, std::string& error) {
  Url u;
  std::string rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
    u.https = true;
  } else {
    error = "only http:// and https:// URLs are supported: " + url;
    return std::nullopt;
  }
  const std::string default_port = u.https ? "443" : "80";
  const auto slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (!u.target.empty() && u.target.front() == '?') u.target = "/" + u.target;
  if (authority.find('@') != std::string::npos) {
    error = "credentials in a URL are not supported: " + url;
    return std::nullopt;
  }
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos) {
      error = "bad URL: " + url;
      return std::nullopt;
    }
    u.host = authority.substr(1, close - 1);
    u.port = close + 1 < authority.size() && authority[close + 1] == ':' ? authority.substr(close + 2) : default_port;
  } else {
    const auto colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    u.port = colon == std::string::npos ? default_port : authority.substr(colon + 1);
  }
  const bool numeric_port = !u.port.empty() && u.port.size() <= 5 &&
                            std::all_of(u.port.begin(), u.port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (u.host.empty() || !numeric_port || std::stoul(u.port) == 0 || std::stoul(u.port) > 65535) {
    error = "bad URL: " + url;
    return std::nullopt;
  }
  return u;
}

// An HTTP proxy: host, port and the Proxy-Authorization value ("" without credentials).
struct Proxy {
  std::string host, port, authorization;
};

std::string env(const char* a, const char* b) {
  if (const char* v = std::getenv(a); v != nullptr && *v != 0) return v;
  if (const char* v = std::getenv(b); v != nullptr && *v != 0) return v;
  return {};
}

std::optional<Proxy> parse_proxy(std::string text) {
  if (text.empty() || text == "none") return std::nullopt;
  if (text.starts_with("http://")) text = text.substr(7);
  while (!text.empty() && text.back() == '/') text.pop_back();
  Proxy p;
  if (const auto at = text.rfind('@'); at != std::string::npos) {
    p.authorization = "Basic " + crypto::base64_encode(text.substr(0, at));
    text = text.substr(at + 1);
  }
  const auto colon = text.rfind(':');
  p.host = text.substr(0, colon);
  p.port = colon == std::string::npos ? "80" : text.substr(colon + 1);
  if (p.host.empty() || p.port.empty() || p.port.find_first_not_of("0123456789") != std::string::npos ||
      p.port.size() > 5)
    return std::nullopt;
  return p;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// no_proxy: "*", or comma-separated hosts; "example.com" and ".example.com" cover its subdomains.
bool bypasses_proxy(const std::string& host, const std::string& list) {
  const std::string h = lower(host);
  std::size_t from = 0;
  while (from <= list.size()) {
    const auto comma = list.find(',', from);
    std::string entry = lower(list.substr(from, comma == std::string::npos ? std::string::npos : comma - from));
    from = comma == std::string::npos ? list.size() + 1 : comma + 1;
    entry.erase(0, entry.find_first_not_of(" \t"));
    entry.erase(entry.find_last_not_of(" \t") + 1);
    if (entry.empty()) continue;
    if (entry == "*") return true;
    if (entry.front() == '.') entry = entry.substr(1);
    if (h == entry || (h.size() > entry.size() && h.ends_with("." + entry))) return true;
  }
  return false;
}

// Sending it twice does no harm: an idempotent method, or a key the gateway
// deduplicates by (the delivery engine sets one on every message).
bool replayable(const ClientRequest& r) {
  for (const char* m : {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
    if (r.method == m) return true;
  return std::any_of(r.headers.begin(), r.headers.end(), [](const auto& h) {
    return beast::iequals(h.first, "Idempotency-Key") || beast::iequals(h.first, "X-Idempotency-Key");
  });
}

bool asks_to_close(const ClientRequest& r) {
  return std::any_of(r.headers.begin(), r.headers.end(), [](const auto& h) {
    return beast::iequals(h.first, "Connection") && beast::iequals(h.second, "close");
  });
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
  bool write_started = false;  // the request is on its way: a failure from here on may have reached it
  bool write_failed = false;
  bool closed_before_answer = false;  // EOF before the first byte of a response
  bool reusable = false;
};

}  // namespace

BeastHttpClient::BeastHttpClient() : BeastHttpClient(HttpClientOptions{}) {}

BeastHttpClient::BeastHttpClient(std::size_t response_limit)
    : BeastHttpClient(HttpClientOptions{.response_limit = response_limit}) {}

BeastHttpClient::BeastHttpClient(HttpClientOptions options)
    : options_(std::move(options)), tls_(std::make_unique<Tls>()) {
  if (options_.https_proxy.empty()) options_.https_proxy = env("https_proxy", "HTTPS_PROXY");
  if (options_.no_proxy.empty()) options_.no_proxy = env("no_proxy", "NO_PROXY");
  auto& ctx = tls_->context;
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_verify_mode(ssl::verify_peer);
  beast::error_code ec;
  if (options_.ca_file.empty())
    ctx.set_default_verify_paths(ec);
  else
    ctx.load_verify_file(options_.ca_file, ec);
  if (ec)
    tls_->error = "cannot load the CA certificates" +
                  (options_.ca_file.empty() ? std::string() : " from " + options_.ca_file) + ": " + ec.message();
}

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
  if (found && !still_usable(found->tcp().socket())) found.reset();
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

namespace {

// The request written and the response read on an established stream (plain or TLS).
template <class Stream>
asio::awaitable<void> write_and_read(Stream& stream, bhttp::request<bhttp::string_body>& req, std::size_t limit,
                                     bool keep, ClientResponse& out, Exchange& x, std::string& failure,
                                     beast::error_code& failure_code) {
  constexpr auto use = asio::as_tuple(asio::use_awaitable);
  x.write_started = true;
  auto [wec, wn] = co_await bhttp::async_write(stream, req, use);
  if (wec) {
    x.write_failed = true;
    failure = "cannot send the request";
    failure_code = wec;
    co_return;
  }
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(limit);
  if (req.method() == bhttp::verb::head) parser.skip(true);
  auto [hec, hn] = co_await bhttp::async_read(stream, buffer, parser, use);
  if (hec) {
    x.closed_before_answer = hec == bhttp::error::end_of_stream || hec == ssl::error::stream_truncated;
    failure = "no valid response";
    failure_code = hec;
    co_return;
  }
  auto res = parser.release();
  out.status = static_cast<int>(res.result_int());
  out.body = std::move(res.body());
  for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  // Reusable when both sides keep it open and nothing unasked-for follows.
  x.reusable = keep && res.keep_alive() && buffer.size() == 0;
}

}  // namespace

ClientResponse BeastHttpClient::request(const ClientRequest& request) {
  ClientResponse out;
  auto url = parse_url(request.url, out.error);
  if (!url) return out;
  if (url->https && !tls_->error.empty()) {
    out.error = tls_->error;
    return out;
  }
  const auto proxy =
      url->https && !bypasses_proxy(url->host, options_.no_proxy) ? parse_proxy(options_.https_proxy) : std::nullopt;
  const std::string key = (url->https ? "https://" : "http://") + url->host + ":" + url->port;
  const auto deadline = steady::now() + request.timeout;
  const bool keep = options_.max_idle_per_host > 0 && !asks_to_close(request);

  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(request.method), url->target, 11};
  const bool default_port = url->port == (url->https ? "443" : "80");
  req.set(bhttp::field::host, default_port ? url->host : url->host + ":" + url->port);
  req.set(bhttp::field::user_agent, "villagebot");
  for (const auto& [k, v] : request.headers) req.set(k, v);
  if (!keep) req.keep_alive(false);
  req.body() = request.body;
  req.prepare_payload();

  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<Connection> conn = keep ? take(key) : nullptr;
    const bool reused = conn != nullptr;
    if (!conn) {
      conn = std::make_unique<Connection>();
      if (url->https) conn->tls.emplace(conn->ioc, tls_->context);
    }
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
    std::string failure;
    beast::error_code failure_code;
    auto fail = [&](std::string what, const beast::error_code& ec) {
      failure = std::move(what);
      failure_code = ec;
    };
    auto& sock = conn->tcp();
    auto exchange = [&]() -> asio::awaitable<void> {
      constexpr auto use = asio::as_tuple(asio::use_awaitable);
      sock.expires_at(deadline);
      if (!reused) {
        const std::string& host = proxy ? proxy->host : url->host;
        const std::string& port = proxy ? proxy->port : url->port;
        beast::error_code aec;
        const auto address = asio::ip::make_address(host, aec);
        if (!aec) {
          // An IP literal (the usual gateway on a LAN or loopback): no resolver.
          auto [cec] =
              co_await sock.async_connect(tcp::endpoint(address, static_cast<unsigned short>(std::stoul(port))), use);
          if (cec) {
            x.connect_failed = true;
            co_return fail("cannot connect to " + host + ":" + port, cec);
          }
        } else {
          // getaddrinfo on the caller's thread: no resolver thread per connection.
          tcp::resolver resolver(conn->ioc);
          beast::error_code rec;
          auto endpoints = resolver.resolve(host, port, rec);
          if (rec) {
            x.connect_failed = true;
            co_return fail("cannot resolve " + host, rec);
          }
          auto [cec, ep] = co_await sock.async_connect(endpoints, use);
          if (cec) {
            x.connect_failed = true;
            co_return fail("cannot connect to " + host + ":" + port, cec);
          }
        }
        beast::error_code ignored;
        sock.socket().set_option(tcp::no_delay(true), ignored);
        if (proxy) {
          // The tunnel: CONNECT host:port, then TLS end to end through it.
          bhttp::request<bhttp::empty_body> connect{bhttp::verb::connect, url->host + ":" + url->port, 11};
          connect.set(bhttp::field::host, url->host + ":" + url->port);
          if (!proxy->authorization.empty()) connect.set(bhttp::field::proxy_authorization, proxy->authorization);
          auto [pwec, pwn] = co_await bhttp::async_write(sock, connect, use);
          if (pwec) {
            x.connect_failed = true;
            co_return fail("cannot reach the proxy " + proxy->host + ":" + proxy->port, pwec);
          }
          beast::flat_buffer pbuf;
          bhttp::response_parser<bhttp::empty_body> pparser;
          pparser.skip(true);  // a 2xx to CONNECT has no body: the tunnel follows
          auto [prec, prn] = co_await bhttp::async_read_header(sock, pbuf, pparser, use);
          if (prec) {
            x.connect_failed = true;
            co_return fail("no answer from the proxy " + proxy->host + ":" + proxy->port, prec);
          }
          if (pparser.get().result_int() / 100 != 2) {
            x.connect_failed = true;
            co_return fail("the proxy " + proxy->host + ":" + proxy->port + " refused the tunnel to " + url->host +
                               ":" + url->port + " (HTTP " + std::to_string(pparser.get().result_int()) + ")",
                           {});
          }
        }
        if (conn->tls) {
          auto* native = conn->tls->native_handle();
          beast::error_code hec;
          (void)asio::ip::make_address(url->host, hec);  // hec set: a name, not an IP literal
          if (hec && SSL_ctrl(native, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                              static_cast<void*>(const_cast<char*>(url->host.c_str()))) != 1) {  // SNI for names only
            x.connect_failed = true;
            co_return fail("cannot set the TLS server name " + url->host, {});
          }
          // The certificate must name the host (or its IP), checked by OpenSSL during the handshake.
          X509_VERIFY_PARAM* param = SSL_get0_param(native);
          const int named = hec ? X509_VERIFY_PARAM_set1_host(param, url->host.c_str(), url->host.size())
                                : X509_VERIFY_PARAM_set1_ip_asc(param, url->host.c_str());
          if (named != 1) {
            x.connect_failed = true;
            co_return fail("cannot check the certificate for " + url->host, {});
          }
          auto [tec] = co_await conn->tls->async_handshake(ssl::stream_base::client, use);
          if (tec) {
            x.connect_failed = true;
            const long verify = SSL_get_verify_result(native);
            if (verify != X509_V_OK)
              co_return fail(
                  "the certificate of " + url->host + " is not trusted (" + X509_verify_cert_error_string(verify) + ")",
                  {});
            co_return fail("TLS handshake with " + url->host + ":" + url->port + " failed", tec);
          }
        }
      }
      if (conn->tls)
        co_await write_and_read(*conn->tls, req, options_.response_limit, keep, out, x, failure, failure_code);
      else
        co_await write_and_read(conn->plain, req, options_.response_limit, keep, out, x, failure, failure_code);
      if (failure.empty()) sock.expires_never();
    };
    conn->ioc.restart();
    asio::co_spawn(conn->ioc, exchange(), [&](const std::exception_ptr& e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        failure = ex.what();
      }
    });
    conn->ioc.run();
    if (!failure.empty()) {
      out.status = 0;
      out.error = failure;
      out.unreachable = !x.write_started;
      if (failure_code)
        out.error += ": " + (failure_code == beast::error::timeout ? std::string("timed out") : failure_code.message());
    }
    if (x.reusable && out.error.empty()) {
      give_back(key, std::move(conn));
      return out;
    }
    if (out.error.empty()) {
      beast::error_code ec;
      sock.socket().shutdown(tcp::socket::shutdown_both, ec);
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
