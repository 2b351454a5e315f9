#include "http/route_table.hpp"

#include <algorithm>
#include <stdexcept>

namespace villagebot::http {

namespace {

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

// "/a/{id}/" -> "a", "{id}", "" (paths start with '/').
std::vector<std::string> split_segments(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 1;
  while (start <= path.size()) {
    const std::size_t slash = path.find('/', start);
    const std::size_t end = slash == std::string_view::npos ? path.size() : slash;
    out.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool is_param(std::string_view segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

// A template's segments against a request path, walking the path without
// copying it: the number of literal segments matched (more is more specific),
// or -1. With `params`, the {name} segments are stored there, percent-decoded.
int match_template(const std::vector<std::string>& want, std::string_view path,
                   std::map<std::string, std::string>* params) {
  std::size_t start = 1;
  int literal = 0;
  for (const auto& w : want) {
    if (start > path.size()) return -1;  // the path has fewer segments
    const std::size_t slash = path.find('/', start);
    const std::size_t end = slash == std::string_view::npos ? path.size() : slash;
    const std::string_view have = path.substr(start, end - start);
    start = end + 1;
    if (is_param(w)) {
      if (have.empty()) return -1;
      if (params != nullptr) (*params)[w.substr(1, w.size() - 2)] = percent_decode(have);
    } else if (w == have) {
      ++literal;
    } else {
      return -1;
    }
  }
  return start > path.size() ? literal : -1;  // or the path has more segments
}

}  // namespace

Registration RouteTable::add(RouteSpec spec) {
  if (spec.path.empty() || spec.path.front() != '/')
    throw std::invalid_argument("route path must start with '/': " + spec.path);
  if (!spec.handler) throw std::invalid_argument("route " + spec.path + " has no handler");
  Entry entry;
  entry.spec = std::make_shared<const RouteSpec>(std::move(spec));
  entry.is_template = entry.spec->path.find('{') != std::string::npos;
  if (entry.is_template) entry.segments = split_segments(entry.spec->path);
  auto route = entry.spec;
  {
    std::unique_lock lock(mutex_);
    for (const auto& e : routes_) {
      const auto& r = e.spec;
      if (r->method == route->method && r->path == route->path && r->prefix == route->prefix)
        throw std::invalid_argument("route " + route->method + " " + route->path + " is already registered");
    }
    routes_.push_back(std::move(entry));
  }
  return Registration([this, weak = std::weak_ptr<const RouteSpec>(route)] {
    auto r = weak.lock();
    std::unique_lock lock(mutex_);
    std::erase_if(routes_, [&](const Entry& e) { return e.spec == r; });
  });
}

RouteTable::Match RouteTable::match(std::string_view method, std::string_view path) const {
  std::shared_lock lock(mutex_);
  // Rank: an exact literal path (3), then a template (2, more literal segments
  // first), then a prefix (1, longest first).
  const Entry* best = nullptr;
  bool method_mismatch = false;
  int best_rank = 0;
  std::size_t best_score = 0;
  for (const auto& e : routes_) {
    const RouteSpec& r = *e.spec;
    int rank = 0;
    std::size_t score = 0;
    if (path == r.path) {
      rank = 3;
    } else if (e.is_template) {
      const int literal = match_template(e.segments, path, nullptr);
      if (literal < 0) continue;
      rank = 2;
      score = static_cast<std::size_t>(literal);
    } else if (r.prefix && path.size() > r.path.size() && path.substr(0, r.path.size()) == r.path &&
               (r.path.back() == '/' || path[r.path.size()] == '/')) {
      rank = 1;
      score = r.path.size();
    } else {
      continue;
    }
    if (r.method != method) {
      if (best == nullptr) method_mismatch = true;
      continue;
    }
    if (best == nullptr || rank > best_rank || (rank == best_rank && score > best_score)) {
      best = &e;
      method_mismatch = false;
      best_rank = rank;
      best_score = score;
    }
  }
  Match out;
  out.method_mismatch = method_mismatch;
  if (best == nullptr) return out;
  out.route = best->spec;
  if (best_rank == 2) {
    match_template(best->segments, path, &out.params);
  } else if (best_rank == 1) {
    std::string_view suffix = path.substr(best->spec->path.size());
    if (!suffix.empty() && suffix.front() == '/') suffix.remove_prefix(1);
    out.suffix = std::string(suffix);
  }
  return out;
}

std::vector<std::shared_ptr<const RouteSpec>> RouteTable::all() const {
  std::shared_lock lock(mutex_);
  std::vector<std::shared_ptr<const RouteSpec>> out;
  out.reserve(routes_.size());
  for (const auto& e : routes_) out.push_back(e.spec);
  return out;
}

Registration PrefixedRoutes::add(RouteSpec spec) {
  std::string path = spec.path;
  while (!path.empty() && path.front() == '/') path.erase(0, 1);
  spec.path = path.empty() ? prefix_ : prefix_ + "/" + path;
  spec.public_route = public_;
  return inner_.add(std::move(spec));
}

}  // namespace villagebot::http
