#include "http/http_server.hpp"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace villagebot::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
using BeastResponse = bhttp::response<bhttp::string_body>;

namespace {

struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  bool busy = false;  // touched only on the connection's strand
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

BeastResponse to_beast(const HttpResponse& r, unsigned version, bool keep_alive) {
  BeastResponse res{static_cast<bhttp::status>(r.status), version};
  res.set(bhttp::field::server, "villagebot");
  res.set(bhttp::field::content_type, r.content_type);
  for (const auto& [k, v] : r.headers) res.set(k, v);
  res.body() = r.body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

// Holds the coroutine's completion handler until a route handler responds; if
// every copy of the responder is dropped unanswered, the client still gets 500.
template <class Handler>
struct PendingResponse {
  PendingResponse(Handler&& h, asio::any_io_executor e, std::shared_ptr<void> server)
      : keep_alive(std::move(server)), handler(std::move(h)), executor(std::move(e)) {}
  ~PendingResponse() {
    if (!done) complete(HttpResponse::error(500, "no_response", "the handler did not answer"));
  }
  PendingResponse(const PendingResponse&) = delete;
  PendingResponse& operator=(const PendingResponse&) = delete;
  void complete(HttpResponse response) {
    if (std::exchange(done, true)) return;
    asio::post(executor, [h = std::move(handler), r = std::move(response)]() mutable { std::move(h)(std::move(r)); });
  }
  // First member, so destroyed last: a handler may answer (or drop its
  // responder) after the server has shut down, on a worker or the writer
  // thread; the strand in `executor` must not outlive its io_context.
  std::shared_ptr<void> keep_alive;
  Handler handler;
  asio::any_io_executor executor;
  bool done = false;
};

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(const config::ServerConfig& c, RouteTable& r, support::Metrics& m, ServerHooks h)
      : cfg(c), routes(r), metrics(m), hooks(std::move(h)), acceptor(ioc) {}

  config::ServerConfig cfg;
  RouteTable& routes;
  support::Metrics& metrics;
  ServerHooks hooks;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  std::atomic<bool> draining{false};
  std::mutex conns_mutex;
  std::condition_variable conns_cv;
  std::set<std::shared_ptr<Connection>> conns;

  std::size_t active() {
    std::lock_guard lock(conns_mutex);
    return conns.size();
  }

  // Not a coroutine (see run_handler): registers and starts one connection.
  void spawn_session(std::shared_ptr<Connection> conn) {
    auto self = shared_from_this();
    {
      std::lock_guard lock(conns_mutex);
      conns.insert(conn);
    }
    asio::co_spawn(conn->stream.get_executor(), session(conn), [self, conn](const std::exception_ptr& e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("http connection ended by an exception: {}", ex.what());
        }
      }
      {
        std::lock_guard lock(self->conns_mutex);
        self->conns.erase(conn);
      }
      self->conns_cv.notify_all();
    });
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), kUse);
      if (ec) {
        if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
        // Out of file descriptors and the like: back off instead of spinning.
        asio::steady_timer pause(ioc, std::chrono::milliseconds(50));
        co_await pause.async_wait(kUse);
        continue;
      }
      if (active() >= cfg.max_connections) {
        metrics.add("villagebot_http_rejected_connections_total", "");
        auto ex = socket.get_executor();
        asio::co_spawn(ex, reject_busy(beast::tcp_stream(std::move(socket))), asio::detached);
        continue;
      }
      spawn_session(std::make_shared<Connection>(std::move(socket)));
    }
  }

  static asio::awaitable<void> reject_busy(beast::tcp_stream stream) {
    auto res = to_beast(HttpResponse::error(503, "busy", "too many connections; try again shortly"), 11, false);
    stream.expires_after(std::chrono::seconds(1));
    co_await bhttp::async_write(stream, res, kUse);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  }

  // Answers an error and closes. The client may still be sending (a body
  // that is too large): stop writing, then read and drop what it sends for a
  // moment before closing, so that it can read the answer instead of
  // getting a broken pipe (a lingering close, as nginx does).
  asio::awaitable<void> write_error(Connection& c, int status, std::string_view code, std::string_view message) {
    auto res = to_beast(HttpResponse::error(status, code, message), 11, false);
    c.stream.expires_after(cfg.body_timeout);
    auto [wec, wn] = co_await bhttp::async_write(c.stream, res, kUse);
    if (wec) co_return;
    beast::error_code ec;
    c.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    std::array<char, 16384> sink{};
    std::size_t drained = 0;
    c.stream.expires_after(std::chrono::seconds(2));
    while (drained < 64 * 1024 * 1024) {
      auto [rec, n] = co_await c.stream.async_read_some(asio::buffer(sink), kUse);
      if (rec) break;
      drained += n;
    }
  }

  asio::awaitable<void> session(std::shared_ptr<Connection> c) {
    beast::flat_buffer buffer;
    bool first = true;
    while (!draining) {
      if (buffer.size() == 0) {
        // Waiting for the next request: a keep-alive connection may idle this long.
        c->stream.expires_after(first ? cfg.header_timeout : cfg.idle_timeout);
        auto [ec, n] = co_await c->stream.async_read_some(buffer.prepare(8192), kUse);
        if (ec) break;
        buffer.commit(n);
      }
      first = false;
      c->busy = true;
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(16 * 1024);
      parser.body_limit(boost::none);  // set from the route once the header is in
      // The whole header must arrive within the header timeout: a trickling client is dropped.
      c->stream.expires_after(cfg.header_timeout);
      auto [hec, hn] = co_await bhttp::async_read_header(c->stream, buffer, parser, kUse);
      if (hec == bhttp::error::body_limit) {
        co_await write_error(*c, 413, "body_too_large",
                             "the request body is larger than " + std::to_string(cfg.body_limit) + " bytes");
        break;
      }
      if (hec == bhttp::error::header_limit) {
        co_await write_error(*c, 431, "headers_too_large", "the request headers are too large");
        break;
      }
      if (hec) {
        if (hec != beast::error::timeout && hec != bhttp::error::end_of_stream && hec != asio::error::eof &&
            hec != asio::error::operation_aborted && hec != asio::error::connection_reset)
          co_await write_error(*c, 400, "bad_request", "malformed HTTP request: " + hec.message());
        break;
      }
      // The route is found once, from the header: its own body limit replaces the server's
      // default (larger for a CSV import, smaller for a gateway's callback).
      const std::string_view target = parser.get().target();
      auto match = routes.match(parser.get().method_string(), target.substr(0, target.find('?')));
      std::size_t limit = cfg.body_limit;
      if (match.route && match.route->max_body_bytes > 0) limit = match.route->max_body_bytes;
      if (parser.content_length() && *parser.content_length() > limit) {
        co_await write_error(*c, 413, "body_too_large",
                             "the request body is larger than " + std::to_string(limit) + " bytes");
        break;
      }
      parser.body_limit(limit);
      if (!parser.is_done()) {
        c->stream.expires_after(cfg.body_timeout);
        auto [bec, bn] = co_await bhttp::async_read(c->stream, buffer, parser, kUse);
        if (bec == bhttp::error::body_limit) {
          co_await write_error(*c, 413, "body_too_large",
                               "the request body is larger than " + std::to_string(limit) + " bytes");
          break;
        }
        if (bec) break;
      }
      auto req = parser.release();
      const bool keep_alive = req.keep_alive();
      HttpResponse response = co_await dispatch(req, std::move(match));
      auto res = to_beast(response, req.version(), keep_alive && !draining);
      c->stream.expires_after(cfg.body_timeout);
      auto [wec, wn] = co_await bhttp::async_write(c->stream, res, kUse);
      c->busy = false;
      if (wec || !res.keep_alive()) break;
    }
    beast::error_code ec;
    c->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  asio::awaitable<HttpResponse> dispatch(bhttp::request<bhttp::string_body>& req, RouteTable::Match match) {
    const auto started = std::chrono::steady_clock::now();
    HttpRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    const auto q = r.target.find('?');
    r.path = r.target.substr(0, q);
    if (q != std::string::npos) r.query = r.target.substr(q + 1);
    for (const auto& field : req) {
      auto name = lower(field.name_string());
      auto [it, inserted] = r.headers.emplace(name, std::string(field.value()));
      if (!inserted) it->second += ", " + std::string(field.value());
    }
    r.body = std::move(req.body());

    std::string route_label = "unmatched";
    HttpResponse response;
    if (!match.route) {
      response = match.method_mismatch
                     ? HttpResponse::error(405, "method_not_allowed", r.method + " is not allowed on " + r.path)
                     : HttpResponse::error(404, "not_found", "no such route: " + r.path);
    } else {
      route_label = match.route->path + (match.route->prefix ? "/*" : "");
      r.route_suffix = match.suffix;
      r.path_params = std::move(match.params);
      response = co_await run_handler(match.route, std::move(r));
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    metrics.add("villagebot_http_requests_total", support::label("route", route_label) + "," +
                                                      support::label("method", std::string(req.method_string())) + "," +
                                                      support::label("status", std::to_string(response.status)));
    metrics.observe("villagebot_http_request_duration_seconds", support::label("route", route_label), seconds);
    co_return response;
  }

  // Deliberately not a coroutine: GCC 12 miscompiles lambdas with
  // init-captures of coroutine parameters, so the request is moved into a
  // shared_ptr here and the coroutine only awaits the result.
  asio::awaitable<HttpResponse> run_handler(std::shared_ptr<const RouteSpec> route, HttpRequest request) {
    auto self = shared_from_this();
    auto shared_request = std::make_shared<HttpRequest>(std::move(request));
    return asio::async_initiate<decltype(asio::use_awaitable), void(HttpResponse)>(
        [self, route, shared_request](auto handler) {
          auto ex = asio::get_associated_executor(handler);
          using Pending = PendingResponse<decltype(handler)>;
          auto pending = std::make_shared<Pending>(std::move(handler), ex, self);
          auto work = [self, route, shared_request, pending] {
            HttpRequest& r = *shared_request;
            Responder respond = [pending](HttpResponse resp) { pending->complete(std::move(resp)); };
            try {
              if (!route->public_route) {
                auto auth = r.header("authorization");
                constexpr std::string_view kBearer = "Bearer ";
                if (auth.size() <= kBearer.size() || auth.compare(0, kBearer.size(), kBearer) != 0) {
                  respond(HttpResponse::error(401, "unauthorized",
                                              "send Authorization: Bearer <token> (villagebot token create)"));
                  return;
                }
                auto principal =
                    self->hooks.authenticate ? self->hooks.authenticate(auth.substr(kBearer.size())) : std::nullopt;
                if (!principal) {
                  respond(HttpResponse::error(401, "unauthorized", "the token is unknown or revoked"));
                  return;
                }
                if (!route->roles.empty() && principal->role != "admin" &&
                    std::find(route->roles.begin(), route->roles.end(), principal->role) == route->roles.end()) {
                  respond(HttpResponse::error(403, "forbidden",
                                              "您的角色（" + principal->role + "）无权使用此功能 / the role '" +
                                                  principal->role + "' may not use this route"));
                  return;
                }
                r.principal = principal->name;
                r.principal_role = principal->role;
                r.principal_person_id = principal->person_id;
              }
              route->handler(r, respond);
            } catch (const std::exception& e) {
              spdlog::error("route {} failed: {}", route->path, e.what());
              respond(
                  HttpResponse::error(500, "internal_error", "the server failed to handle this request; it is logged"));
            }
          };
          // Public non-blocking routes (webhooks that only verify and submit)
          // run right here; everything else goes to the worker pool.
          if (route->non_blocking && route->public_route)
            work();
          else
            self->hooks.run_blocking(std::move(work));
        },
        asio::use_awaitable);
  }
};

HttpServer::HttpServer(const config::ServerConfig& config, RouteTable& routes, support::Metrics& metrics,
                       ServerHooks hooks)
    : impl_(std::make_shared<Impl>(config, routes, metrics, std::move(hooks))) {
  metrics.describe("villagebot_http_requests_total", "counter", "HTTP requests by route, method and status");
  metrics.describe("villagebot_http_request_duration_seconds", "histogram", "HTTP request latency by route");
}

HttpServer::~HttpServer() {
  shutdown();
}

std::uint16_t HttpServer::start() {
  auto& impl = *impl_;
  const std::string where = impl.cfg.host + ":" + std::to_string(impl.cfg.port);
  try {
    tcp::resolver resolver(impl.ioc);
    auto results = resolver.resolve(impl.cfg.host, std::to_string(impl.cfg.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service);
    const tcp::endpoint endpoint = *results.begin();
    impl.acceptor.open(endpoint.protocol());
    impl.acceptor.set_option(asio::socket_base::reuse_address(true));
    impl.acceptor.bind(endpoint);
    impl.acceptor.listen(asio::socket_base::max_listen_connections);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot listen on " + where + ": " + e.code().message() +
                             " (is another villagebot running? change [server] listen)");
  }
  const auto port = impl.acceptor.local_endpoint().port();
  asio::co_spawn(impl.ioc, impl.accept_loop(), asio::detached);
  for (int i = 0; i < impl.cfg.threads; ++i)
    impl.threads.emplace_back([&impl] {
      pthread_setname_np(pthread_self(), "vb-net");
      impl.ioc.run();
    });
  return port;
}

std::size_t HttpServer::active_connections() const {
  return impl_->active();
}

void HttpServer::shutdown() {
  auto& impl = *impl_;
  if (impl.threads.empty()) return;
  impl.draining = true;
  asio::post(impl.ioc, [&impl] {
    beast::error_code ec;
    impl.acceptor.close(ec);
  });
  auto close_connections = [&impl](bool idle_only) {
    std::lock_guard lock(impl.conns_mutex);
    for (const auto& c : impl.conns) {
      asio::post(c->stream.get_executor(), [c, idle_only] {
        if (!idle_only || !c->busy) c->stream.close();
      });
    }
  };
  close_connections(true);
  {
    std::unique_lock lock(impl.conns_mutex);
    impl.conns_cv.wait_for(lock, impl.cfg.shutdown_grace, [&impl] { return impl.conns.empty(); });
  }
  if (impl.active() > 0) {
    spdlog::warn("shutdown: {} connection(s) still busy after the grace period; closing them", impl.active());
    close_connections(false);
    std::unique_lock lock(impl.conns_mutex);
    impl.conns_cv.wait_for(lock, std::chrono::seconds(2), [&impl] { return impl.conns.empty(); });
  }
  // Let the accept loop and the sessions unwind so their frames are freed,
  // then stop whatever is left.
  for (int i = 0; i < 200 && !impl.ioc.stopped(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  impl.ioc.stop();
  for (auto& t : impl.threads) t.join();
  impl.threads.clear();
}

}  // namespace villagebot::http
