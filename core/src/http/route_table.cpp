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

RouteTable::Match RouteTable::match(const std::string& method, const std::string& path) const {
  std::shared_lock lock(mutex_);
  Match best;
  std::size_t best_len = 0;
  bool exact = false;
  for (const auto& r : routes_) {
    bool hit = false;
    std::string suffix;
    if (path == r->path) {
      hit = true;
    } else if (r->prefix && path.size() > r->path.size() && path.compare(0, r->path.size(), r->path) == 0 &&
               (r->path.back() == '/' || path[r->path.size()] == '/')) {
      hit = true;
      suffix = path.substr(r->path.size());
      if (!suffix.empty() && suffix.front() == '/') suffix.erase(0, 1);
    }
    if (!hit) continue;
    const bool is_exact = suffix.empty() && path == r->path;
    if (r->method != method) {
      if (!best.route) best.method_mismatch = true;
      continue;
    }
    if (!best.route || (is_exact && !exact) || (is_exact == exact && r->path.size() > best_len)) {
      best.route = r;
      best.suffix = suffix;
      best.method_mismatch = false;
      best_len = r->path.size();
      exact = is_exact;
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
