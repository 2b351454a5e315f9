#include "http/http_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace villagebot::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

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
  if (u.host.empty() || u.port.empty()) {
    error = "bad URL: " + url;
    return std::nullopt;
  }
  return u;
}

}  // namespace

ClientResponse BeastHttpClient::request(const ClientRequest& request) {
  ClientResponse out;
  auto url = parse_url(request.url, out.error);
  if (!url) return out;
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  auto fail = [&](std::string_view what, const beast::error_code& ec) {
    out.error = std::string(what) + ": " + (ec == beast::error::timeout ? std::string("timed out") : ec.message());
  };
  auto exchange = [&]() -> asio::awaitable<void> {
    constexpr auto use = asio::as_tuple(asio::use_awaitable);
    stream.expires_after(request.timeout);
    tcp::resolver resolver(ioc);
    auto [rec, endpoints] = co_await resolver.async_resolve(url->host, url->port, use);
    if (rec) co_return fail("cannot resolve " + url->host, rec);
    auto [cec, ep] = co_await stream.async_connect(endpoints, use);
    if (cec) co_return fail("cannot connect to " + url->host + ":" + url->port, cec);
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(request.method), url->target, 11};
    req.set(bhttp::field::host, url->host);
    req.set(bhttp::field::user_agent, "villagebot");
    for (const auto& [k, v] : request.headers) req.set(k, v);
    req.body() = request.body;
    req.prepare_payload();
    auto [wec, wn] = co_await bhttp::async_write(stream, req, use);
    if (wec) co_return fail("cannot send the request", wec);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(response_limit_);
    auto [hec, hn] = co_await bhttp::async_read(stream, buffer, parser, use);
    if (hec) co_return fail("no valid response", hec);
    auto res = parser.release();
    out.status = static_cast<int>(res.result_int());
    out.body = std::move(res.body());
    for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  };
  asio::co_spawn(ioc, exchange(), [&](const std::exception_ptr& e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      out.error = ex.what();
    }
  });
  ioc.run();
  return out;
}

}  // namespace villagebot::http
