#include "http/route_table.hpp"

#include <algorithm>
#include <stdexcept>

namespace villagebot::http {

Registration RouteTable::add(RouteSpec spec) {
  if (spec.path.empty() || spec.path.front() != '/')
    throw std::invalid_argument("route path must start with '/': " + spec.path);
  if (!spec.handler) throw std::invalid_argument("route " + spec.path + " has no handler");
  auto route = std::make_shared<const RouteSpec>(std::move(spec));
  {
    std::unique_lock lock(mutex_);
    for (const auto& r : routes_)
      if (r->method == route->method && r->path == route->path && r->prefix == route->prefix)
        throw std::invalid_argument("route " + route->method + " " + route->path + " is already registered");
    routes_.push_back(route);
  }
  return Registration([this, weak = std::weak_ptr<const RouteSpec>(route)] {
    auto r = weak.lock();
    std::unique_lock lock(mutex_);
    std::erase_if(routes_, [&](const auto& x) { return x == r; });
  });
}

namespace {

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t start = 1;  // paths start with '/'
  while (start <= path.size()) {
    const std::size_t slash = path.find('/', start);
    const std::size_t end = slash == std::string_view::npos ? path.size() : slash;
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && hex_value(in[i + 1]) >= 0 && hex_value(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

// A route path with {name} segments against a request path: the number of
// literal segments matched (more is more specific), or -1.
int match_template(const std::string& pattern, const std::string& path, std::map<std::string, std::string>& params) {
  const auto want = segments(pattern);
  const auto have = segments(path);
  if (want.size() != have.size()) return -1;
  int literal = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const auto w = want[i];
    if (w.size() >= 2 && w.front() == '{' && w.back() == '}') {
      if (have[i].empty()) return -1;
      params[std::string(w.substr(1, w.size() - 2))] = percent_decode(have[i]);
    } else if (w == have[i]) {
      ++literal;
    } else {
      return -1;
    }
  }
  return literal;
}

}  // namespace

RouteTable::Match RouteTable::match(const std::string& method, const std::string& path) const {
  std::shared_lock lock(mutex_);
  Match best;
  // Rank: an exact literal path (3), then a template (2, more literal segments
  // first), then a prefix (1, longest first).
  int best_rank = 0;
  std::size_t best_score = 0;
  for (const auto& r : routes_) {
    int rank = 0;
    std::size_t score = 0;
    std::string suffix;
    std::map<std::string, std::string> params;
    if (path == r->path) {
      rank = 3;
    } else if (r->path.find('{') != std::string::npos) {
      const int literal = match_template(r->path, path, params);
      if (literal < 0) continue;
      rank = 2;
      score = static_cast<std::size_t>(literal);
    } else if (r->prefix && path.size() > r->path.size() && path.compare(0, r->path.size(), r->path) == 0 &&
               (r->path.back() == '/' || path[r->path.size()] == '/')) {
      rank = 1;
      score = r->path.size();
      suffix = path.substr(r->path.size());
      if (!suffix.empty() && suffix.front() == '/') suffix.erase(0, 1);
    } else {
      continue;
    }
    if (r->method != method) {
      if (!best.route) best.method_mismatch = true;
      continue;
    }
    if (!best.route || rank > best_rank || (rank == best_rank && score > best_score)) {
      best.route = r;
      best.suffix = std::move(suffix);
      best.params = std::move(params);
      best.method_mismatch = false;
      best_rank = rank;
      best_score = score;
    }
  }
  return best;
}

std::vector<std::shared_ptr<const RouteSpec>> RouteTable::all() const {
  std::shared_lock lock(mutex_);
  return routes_;
}

Registration PrefixedRoutes::add(RouteSpec spec) {
  std::string path = spec.path;
  while (!path.empty() && path.front() == '/') path.erase(0, 1);
  spec.path = path.empty() ? prefix_ : prefix_ + "/" + path;
  spec.public_route = public_;
  return inner_.add(std::move(spec));
}

}  // namespace villagebot::http
