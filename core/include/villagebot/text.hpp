#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// Text rules shared by the pipeline, plugins and adapters.
namespace villagebot::text {

bool valid_utf8(std::string_view s);
// Appends `s` as the inside of a JSON string, as nlohmann::json writes it without
// ensure_ascii: '"', '\\' and control characters escaped (\n, \t ... or \u00XX),
// every other byte copied (the caller checks UTF-8 where it matters).
void append_json_escaped(std::string& out, std::string_view s);
// Appends `s` as a JSON string, quotes included, the same text as nlohmann::json's
// dump(-1, ' ', false, replace): text that is not valid UTF-8 gets U+FFFD for what is broken.
void append_json_string(std::string& out, std::string_view s);
std::u32string to_u32(std::string_view utf8);  // invalid bytes become U+FFFD
std::string to_utf8(std::u32string_view s);
std::size_t length_u32(std::string_view utf8);

// PRODUCT.md §4: full-width to half-width, a leading @mention of the bot
// stripped, ：and , and ，as separators, spaces collapsed and trimmed.
std::string normalise_command(std::string_view raw, const std::vector<std::string>& bot_names = {});

std::string ascii_lower(std::string_view s);
std::string trim(std::string_view s);
std::vector<std::string> split_ws(std::string_view s);

// Levenshtein distance over code points.
std::size_t edit_distance(std::string_view a, std::string_view b);

// E.164: "+8613800000001" for an 11-digit Chinese mobile (with or without
// +86/0086/86), other numbers kept if they start with '+'. nullopt if invalid.
std::optional<std::string> normalise_phone(std::string_view raw);
// SMS segments of a text: GSM-7 text fits 160 per message (153 per part when
// split); anything else (Chinese) is UCS-2, 70 (67 per part). 0 for "".
int sms_segments(std::string_view utf8);
// 138****0001: for logs.
std::string mask_phone(std::string_view phone);
// Masks every phone-number-like run of digits inside free text.
std::string mask_phones_in(std::string_view text);

}  // namespace villagebot::text
