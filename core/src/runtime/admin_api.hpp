#pragma once
#include <vector>

#include "directory/admin.hpp"
#include "runtime/tokens.hpp"
#include "villagebot/handle.hpp"
#include "villagebot/http.hpp"

namespace villagebot::delivery {
class DeliveryEngine;
}

namespace villagebot::runtime {

// The admin REST API of docs/API.md: org units, households, persons, roles,
// identities, audiences, CSV import and export, tokens, the audit log.
// Returns the registrations (the routes live while they do).
std::vector<Registration> register_admin_api(RouteRegistry& routes, directory::DirectoryAdmin& admin,
                                             TokenStore& tokens, Storage& storage, delivery::DeliveryEngine& engine);

}  // namespace villagebot::runtime
