#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "villagebot/http.hpp"

namespace villagebot::http {

// All routes of the server: core, plugin API routes and adapter hooks.
class RouteTable final : public RouteRegistry {
 public:
  struct Match {
    std::shared_ptr<const RouteSpec> route;
    std::string suffix;
    std::map<std::string, std::string> params;  // {name} segments, percent-decoded
    bool method_mismatch = false;               // the path exists with another method (405)
  };
  Registration add(RouteSpec spec) override;
  // Allocates only for what it returns: the route's path is split into
  // segments once, when it is added, not on every request.
  [[nodiscard]] Match match(std::string_view method, std::string_view path) const;
  [[nodiscard]] std::vector<std::shared_ptr<const RouteSpec>> all() const;

 private:
  struct Entry {
    std::shared_ptr<const RouteSpec> spec;
    bool is_template = false;           // the path has {name} segments
    std::vector<std::string> segments;  // of a template: its path split at '/'
  };
  mutable std::shared_mutex mutex_;
  std::vector<Entry> routes_;
};

// A RouteRegistry that puts every path under a prefix and forces the access
// rule: plugins get /api/v1/<name>/ behind tokens, adapters /hooks/<id>/ public.
class PrefixedRoutes final : public RouteRegistry {
 public:
  PrefixedRoutes(RouteRegistry& inner, std::string prefix, bool public_routes)
      : inner_(inner), prefix_(std::move(prefix)), public_(public_routes) {}
  Registration add(RouteSpec spec) override;

 private:
  RouteRegistry& inner_;
  std::string prefix_;
  bool public_;
};

}  // namespace villagebot::http
