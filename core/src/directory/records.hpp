#pragma once
#include <cstdint>

#include <nlohmann/json.hpp>

#include "villagebot/storage.hpp"

// The JSON form of directory records, as the API returns them and the audit
// log stores them (docs/API.md). null when the record does not exist.
namespace villagebot::directory {

nlohmann::json person_record(Session& session, std::int64_t id);
nlohmann::json household_record(Session& session, std::int64_t id);
nlohmann::json org_unit_record(Session& session, std::int64_t id);

// Phones masked (138****0001) in every "phone" field, at any depth: for
// roles that do not need them (supervisor).
void mask_phones(nlohmann::json& value);

}  // namespace villagebot::directory
