#pragma once
// The points REST API under /api/v1/points/ (docs/API.md, and the OpenAPI
// document): balances, the ledger, verification, the leaderboard, rules,
// proposals and decisions, the store and redemptions, the 以奖代补 export.
#include <vector>

#include "proposals.hpp"
#include "store.hpp"
#include "villagebot/directory.hpp"
#include "villagebot/handle.hpp"
#include "villagebot/http.hpp"

namespace villagebot::points {

struct PointsApiDeps {
  Ledger& ledger;
  Proposals& proposals;
  Store& store;
  Directory& directory;
  std::int64_t eligibility_threshold = 100;  // 以奖代补: households at or above it
};

std::vector<Registration> register_points_api(RouteRegistry& routes, PointsApiDeps deps);

}  // namespace villagebot::points
