// The ceiling for villagebot's HTTP figures: the least a Beast server can do per
// request (read it fully, answer a constant JSON reply, keep the connection) with the
// same threading shape as villagebot (one io_context, N threads, a strand per
// connection, coroutines). Anything villagebot costs beyond this is its own work.
//
// Usage: vb_bare_server [--port 0] [--threads 2] [--address 127.0.0.1]
// Prints "listening on ADDRESS:PORT" once bound, then serves until SIGINT/SIGTERM.

// GCC 12 at -O2 reports "potential null pointer dereference" inside Asio's own
// scheduler and strand comparison once they are inlined here; system-header
// suppression does not reach inlined code, and the pragma must cover the caller.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kReplyBody = R"({"replies":[{"text":"ok"}]})";
constexpr std::chrono::seconds kIdleTimeout{30};
constexpr std::uint64_t kBodyLimit = 1024 * 1024;

struct Options {
  std::string address = "127.0.0.1";
  unsigned short port = 0;
  unsigned threads = 2;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "vb_bare_server: " << message << "\n"
            << "usage: vb_bare_server [--port PORT] [--threads N] [--address IP]\n";
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

Options parse_options(int argc, char** argv) {
  Options options;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << "usage: vb_bare_server [--port PORT] [--threads N] [--address IP]\n";
      std::exit(0);
    }
    if (i + 1 >= args.size()) {
      usage_error("unknown option or missing value: " + std::string(arg));
    }
    const std::string_view value = args[++i];
    if (arg == "--port") {
      options.port = parse_number<unsigned short>(arg, value);
    } else if (arg == "--threads") {
      options.threads = parse_number<unsigned>(arg, value);
      if (options.threads == 0) {
        usage_error("--threads must be at least 1");
      }
    } else if (arg == "--address") {
      options.address = std::string(value);
    } else {
      usage_error("unknown option: " + std::string(arg));
    }
  }
  return options;
}

asio::awaitable<void> serve_connection(beast::tcp_stream stream) {
  beast::flat_buffer buffer;
  for (;;) {
    // A fresh parser per request: the body is read in full, as a real server must.
    http::request_parser<http::string_body> parser;
    parser.body_limit(kBodyLimit);
    stream.expires_after(kIdleTimeout);
    const auto [read_ec, read_bytes] = co_await http::async_read(stream, buffer, parser, kTuple);
    if (read_ec) {
      break;  // peer closed, timed out or sent garbage: nothing to answer
    }
    const auto& request = parser.get();

    http::response<http::string_body> response{http::status::ok, request.version()};
    response.set(http::field::server, "vb_bare_server");
    response.set(http::field::content_type, "application/json");
    response.keep_alive(request.keep_alive());
    response.body() = kReplyBody;
    response.prepare_payload();

    stream.expires_after(kIdleTimeout);
    const auto [write_ec, write_bytes] = co_await http::async_write(stream, response, kTuple);
    if (write_ec || response.need_eof()) {
      break;
    }
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> accept_loop(asio::io_context& ioc, tcp::acceptor& acceptor) {
  for (;;) {
    // Each connection's socket is bound to its own strand, so its handlers never run
    // concurrently even with several threads.
    auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
        co_return;
      }
      continue;  // e.g. EMFILE under load: keep serving the connections we have
    }
    auto executor = socket.get_executor();
    asio::co_spawn(executor, serve_connection(beast::tcp_stream(std::move(socket))), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  try {
    asio::io_context ioc{static_cast<int>(options.threads)};

    const tcp::endpoint endpoint{asio::ip::make_address(options.address), options.port};
    // The acceptor and the signal handler that closes it share one strand.
    tcp::acceptor acceptor{asio::make_strand(ioc)};
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);

    const tcp::endpoint bound = acceptor.local_endpoint();
    std::cout << "listening on " << bound.address().to_string() << ':' << bound.port() << std::endl;

    asio::signal_set signals{acceptor.get_executor(), SIGINT, SIGTERM};
    signals.async_wait([&](const beast::error_code&, int) {
      beast::error_code ignored;
      acceptor.close(ignored);
      ioc.stop();
    });

    asio::co_spawn(acceptor.get_executor(), accept_loop(ioc, acceptor), asio::detached);

    std::vector<std::thread> workers;
    workers.reserve(options.threads - 1);
    for (unsigned i = 1; i < options.threads; ++i) {
      workers.emplace_back([&ioc] { ioc.run(); });
    }
    ioc.run();
    for (auto& worker : workers) {
      worker.join();
    }
  } catch (const std::exception& e) {
    std::cerr << "vb_bare_server: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
