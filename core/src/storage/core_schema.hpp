#pragma once
#include <vector>

#include "villagebot/storage.hpp"

namespace villagebot::storage {
// The core module's migrations (core/schema/core_NNN.sql, embedded at build time).
const std::vector<Migration>& core_migrations();
}  // namespace villagebot::storage
