#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>

#include "villagebot/storage.hpp"

// The people register as Excel opens it: UTF-8 with a BOM, CRLF, the import's
// columns (Chinese headers unless english_headers), roles in Chinese joined
// with 、. Importing the export again changes nothing.
namespace villagebot::directory {

struct ExportOptions {
  bool english_headers = false;
  // Only persons whose org unit is in this set (a cadre's scope); all when empty.
  std::optional<std::unordered_set<std::int64_t>> units;
};

std::string export_people(Storage& storage, const ExportOptions& options);

// One CSV cell: quoted when it holds a separator, quote or line break, and
// prefixed with ' when Excel would run it as a formula (= + - @).
std::string csv_cell(std::string_view value);
// True when Excel would run the cell (= + - @ first, also after apostrophes).
bool looks_like_formula(std::string_view value);

}  // namespace villagebot::directory
