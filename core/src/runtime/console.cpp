#include "runtime/console.hpp"

#include <map>
#include <memory>
#include <string>

#include "villagebot/crypto.hpp"

namespace villagebot::runtime {
namespace {

// Only this server: no outside scripts, styles, fonts or images, no inline script, no framing.
constexpr const char* kPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

struct Served {
  const WebAsset* asset = nullptr;
  std::string etag;
};

std::shared_ptr<const std::map<std::string, Served, std::less<>>> build_index() {
  auto index = std::make_shared<std::map<std::string, Served, std::less<>>>();
  for (const auto& a : web_assets()) {
    (*index)[std::string(a.path)] = Served{&a, "\"" + crypto::sha256_hex(a.body).substr(0, 16) + "\""};
  }
  return index;
}

HttpResponse serve(const Served& s, const HttpRequest& request) {
  HttpResponse r;
  r.headers = {{"Content-Security-Policy", kPolicy}, {"X-Content-Type-Options", "nosniff"},
               {"Referrer-Policy", "no-referrer"},   {"X-Frame-Options", "DENY"},
               {"Cache-Control", "no-cache"},        {"ETag", s.etag}};
  if (request.header("if-none-match") == s.etag) {
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  r.status = 200;
  r.content_type = std::string(s.asset->content_type);
  r.body = std::string(s.asset->body);
  return r;
}

}  // namespace

std::vector<Registration> register_console(RouteRegistry& routes) {
  auto index = build_index();
  std::vector<Registration> out;
  RouteSpec root;
  root.method = "GET";
  root.path = "/";
  root.public_route = true;
  root.non_blocking = true;
  root.tag = "console";
  root.summary = "The officials' web console (中文 / English)";
  root.response_content_type = "text/html";
  root.handler = [index](const HttpRequest& request, const Responder& respond) {
    auto it = index->find("index.html");
    if (it == index->end()) return respond(HttpResponse::error(404, "not_found", "this build has no web console"));
    respond(serve(it->second, request));
  };
  out.push_back(routes.add(std::move(root)));

  RouteSpec files;
  files.method = "GET";
  files.path = "/console";
  files.prefix = true;
  files.public_route = true;
  files.non_blocking = true;
  files.tag = "console";
  files.summary = "The web console's scripts and styles";
  files.response_content_type = "text/javascript";
  files.handler = [index](const HttpRequest& request, const Responder& respond) {
    auto it = index->find(request.route_suffix);
    if (it == index->end())
      return respond(HttpResponse::error(404, "not_found", "no such console file: " + request.route_suffix));
    respond(serve(it->second, request));
  };
  out.push_back(routes.add(std::move(files)));
  return out;
}

}  // namespace villagebot::runtime
