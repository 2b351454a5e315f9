#include "http/http_server.hpp"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
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

// A connection's strand as a concrete type: its socket, timer and coroutine
// run without the type-erased any_io_executor, whose copies and dispatch
// cost a tenth of the HTTP layer's time.
using Strand = asio::strand<asio::io_context::executor_type>;
using Stream = beast::basic_stream<tcp, Strand>;
template <class T>
using Task = asio::awaitable<T, Strand>;
constexpr asio::use_awaitable_t<Strand> kAwait{};
constexpr auto kOn = asio::as_tuple(kAwait);

namespace {

struct Connection {
  explicit Connection(Stream::socket_type socket) : stream(std::move(socket)) {}
  Stream stream;
  bool busy = false;  // touched only on the connection's strand
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool has_line_break(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

// The response as bytes on the wire, in one buffer: Beast's serializer walks
// a chain of buffer views per write, which cost more than the rest of the
// HTTP layer together. Framing as Beast's prepare_payload() does it:
// Content-Length, none (and no body) for 1xx, 204 and 304; Connection: close
// to end an HTTP/1.1 connection, keep-alive to keep an HTTP/1.0 one. A
// handler's header replaces Server or Content-Type; it cannot set the
// framing headers, nor break a line.
std::string serialize(const HttpResponse& r, unsigned version, bool keep_alive) {
  const auto status = static_cast<bhttp::status>(r.status);
  const bool no_body = r.status < 200 || r.status == 204 || r.status == 304;
  std::string_view server = "villagebot";
  std::string_view content_type = r.content_type;
  for (const auto& [name, value] : r.headers) {
    if (beast::iequals(name, "server")) server = value;
    if (beast::iequals(name, "content-type")) content_type = value;
  }
  std::string out;
  out.reserve(160 + r.body.size());
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  const std::string_view reason = bhttp::obsolete_reason(status);
  out += reason.empty() ? std::string_view("Unknown") : reason;
  out += "\r\n";
  auto field = [&out](std::string_view name, std::string_view value) {
    if (name.empty() || has_line_break(name) || has_line_break(value)) return;
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  };
  field("Server", server);
  field("Content-Type", content_type);
  for (const auto& [name, value] : r.headers) {
    if (beast::iequals(name, "server") || beast::iequals(name, "content-type") ||
        beast::iequals(name, "content-length") || beast::iequals(name, "transfer-encoding") ||
        beast::iequals(name, "connection"))
      continue;
    field(name, value);
  }
  if (!no_body) field("Content-Length", std::to_string(r.body.size()));
  if (version >= 11 && !keep_alive) field("Connection", "close");
  if (version < 11 && keep_alive) field("Connection", "keep-alive");
  out += "\r\n";
  if (!no_body) out += r.body;
  return out;
}

// Holds the coroutine's completion handler until a route handler responds; if
// every copy of the responder is dropped unanswered, the client still gets 500.
template <class Handler>
struct PendingResponse {
  PendingResponse(Handler&& h, Strand e, std::shared_ptr<void> server)
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
  Strand executor;
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
      Stream::socket_type socket(asio::make_strand(ioc.get_executor()));
      auto [ec] = co_await acceptor.async_accept(socket, kUse);
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
        asio::co_spawn(ex, reject_busy(Stream(std::move(socket))), asio::detached);
        continue;
      }
      spawn_session(std::make_shared<Connection>(std::move(socket)));
    }
  }

  static Task<void> reject_busy(Stream stream) {
    const auto wire = serialize(HttpResponse::error(503, "busy", "too many connections; try again shortly"), 11, false);
    stream.expires_after(std::chrono::seconds(1));
    co_await asio::async_write(stream, asio::buffer(wire), kOn);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  }

  // Answers an error and closes. The client may still be sending (a body
  // that is too large): stop writing, then read and drop what it sends for a
  // moment before closing, so that it can read the answer instead of
  // getting a broken pipe (a lingering close, as nginx does).
  Task<void> write_error(Connection& c, int status, std::string_view code, std::string_view message) {
    const auto wire = serialize(HttpResponse::error(status, code, message), 11, false);
    c.stream.expires_after(cfg.body_timeout);
    auto [wec, wn] = co_await asio::async_write(c.stream, asio::buffer(wire), kOn);
    if (wec) co_return;
    beast::error_code ec;
    c.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    std::array<char, 16384> sink{};
    std::size_t drained = 0;
    c.stream.expires_after(std::chrono::seconds(2));
    while (drained < 64 * 1024 * 1024) {
      auto [rec, n] = co_await c.stream.async_read_some(asio::buffer(sink), kOn);
      if (rec) break;
      drained += n;
    }
  }

  using Parser = bhttp::request_parser<bhttp::string_body>;

  // Reads until the parser has the header (`whole` false) or the whole request, parsing what is
  // buffered before reading: a request that came in one segment costs one read and no composed
  // operation. The deadline is the caller's (expires_after), shared by every read here, so a
  // client that trickles is dropped when it passes. End of stream before a byte of a request:
  // end_of_stream; within one: partial_message.
  // Parses what is buffered: true when the part asked for (the header, or the whole request)
  // is complete or the bytes are malformed (then `ec` says so), false when more must be read.
  // Not a coroutine: a request that came in one segment is parsed without allocating a frame.
  static bool parse_buffered(beast::flat_buffer& buffer, Parser& parser, bool whole, beast::error_code& ec) {
    for (;;) {
      if (whole ? parser.is_done() : parser.is_header_done()) return true;
      if (buffer.size() == 0) return false;
      const std::size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == bhttp::error::need_more) {
        ec = {};
        return false;
      }
      if (ec) return true;
      if (used == 0) return false;
      // progress: the next element may be buffered too
    }
  }

  // Reads until the part asked for is in (or the bytes are malformed); called only after
  // parse_buffered found what is buffered not enough, so it reads before parsing again.
  Task<beast::error_code> read_request(Connection& c, beast::flat_buffer& buffer, Parser& parser, bool whole) {
    constexpr std::size_t kReadSize = 64 * 1024;
    for (;;) {
      auto [rec, n] = co_await c.stream.async_read_some(buffer.prepare(kReadSize), kOn);
      if (rec == asio::error::eof) {
        if (!parser.got_some()) co_return beast::error_code(bhttp::error::end_of_stream);
        beast::error_code eof;
        parser.put_eof(eof);
        co_return eof ? eof : beast::error_code(bhttp::error::partial_message);
      }
      if (rec) co_return rec;
      buffer.commit(n);
      beast::error_code ec;
      if (parse_buffered(buffer, parser, whole, ec)) co_return ec;
    }
  }

  Task<void> session(std::shared_ptr<Connection> c) {
    beast::flat_buffer buffer;
    bool first = true;
    while (!draining) {
      if (buffer.size() == 0) {
        // Waiting for the next request: a keep-alive connection may idle this long.
        c->stream.expires_after(first ? cfg.header_timeout : cfg.idle_timeout);
        auto [ec, n] = co_await c->stream.async_read_some(buffer.prepare(8192), kOn);
        if (ec) break;
        buffer.commit(n);
      }
      first = false;
      c->busy = true;
      Parser parser;
      parser.header_limit(16 * 1024);
      parser.body_limit(boost::none);  // set from the route once the header is in
      // The whole header must arrive within the header timeout: a trickling client is dropped.
      c->stream.expires_after(cfg.header_timeout);
      beast::error_code hec;
      if (!parse_buffered(buffer, parser, false, hec)) hec = co_await read_request(*c, buffer, parser, false);
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
        parser.eager(true);
        c->stream.expires_after(cfg.body_timeout);
        beast::error_code bec;
        if (!parse_buffered(buffer, parser, true, bec)) bec = co_await read_request(*c, buffer, parser, true);
        if (bec == bhttp::error::body_limit) {
          co_await write_error(*c, 413, "body_too_large",
                               "the request body is larger than " + std::to_string(limit) + " bytes");
          break;
        }
        if (bec) break;
      }
      auto req = parser.release();
      const bool keep_alive = req.keep_alive();
      // In this frame rather than a coroutine of its own: a frame allocated per request.
      const auto started = std::chrono::steady_clock::now();
      HttpResponse response;
      if (match.route) {
        HttpRequest request = to_request(req, match);
        response = co_await run_handler(match.route, std::move(request));
      } else {
        response = not_routed(req, match);
      }
      record(req.method_string(), match, response.status, started);
      const bool keep_open = keep_alive && !draining;
      const auto wire = serialize(response, req.version(), keep_open);
      c->stream.expires_after(cfg.body_timeout);
      auto [wec, wn] = co_await asio::async_write(c->stream, asio::buffer(wire), kOn);
      c->busy = false;
      if (wec || !keep_open) break;
    }
    beast::error_code ec;
    c->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  static HttpRequest to_request(bhttp::request<bhttp::string_body>& req, RouteTable::Match& match) {
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
    r.route_suffix = match.suffix;
    r.path_params = std::move(match.params);
    return r;
  }

  static HttpResponse not_routed(const bhttp::request<bhttp::string_body>& req, const RouteTable::Match& match) {
    const std::string_view target = req.target();
    const std::string path(target.substr(0, target.find('?')));
    return match.method_mismatch ? HttpResponse::error(405, "method_not_allowed",
                                                       std::string(req.method_string()) + " is not allowed on " + path)
                                 : HttpResponse::error(404, "not_found", "no such route: " + path);
  }

  void record(std::string_view method, const RouteTable::Match& match, int status,
              std::chrono::steady_clock::time_point started) {
    thread_local std::string route_label;  // no allocation per request
    route_label.assign(match.route ? std::string_view(match.route->path) : std::string_view("unmatched"));
    if (match.route && match.route->prefix) route_label += "/*";
    std::array<char, 12> digits{};
    const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), status).ptr;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    metrics.add(
        "villagebot_http_requests_total",
        {{"route", route_label}, {"method", method}, {"status", std::string_view(digits.data(), end - digits.data())}});
    metrics.observe("villagebot_http_request_duration_seconds", {{"route", route_label}}, seconds);
  }

  // Deliberately not a coroutine: GCC 12 miscompiles lambdas with
  // init-captures of coroutine parameters, so the request is moved into a
  // shared_ptr here and the coroutine only awaits the result.
  Task<HttpResponse> run_handler(std::shared_ptr<const RouteSpec> route, HttpRequest request) {
    auto self = shared_from_this();
    auto shared_request = std::make_shared<HttpRequest>(std::move(request));
    return asio::async_initiate<decltype(kAwait), void(HttpResponse)>(
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
        kAwait);
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
