#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

// Hashing and signing helpers for adapters (webhook signatures) and the core.
namespace villagebot::crypto {

std::string sha256(std::string_view data);  // raw 32 bytes
std::string sha256_hex(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view message);  // raw bytes
std::string hmac_sha1(std::string_view key, std::string_view message);    // raw bytes
std::string to_hex(std::string_view bytes);
std::optional<std::string> from_hex(std::string_view hex);
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);
// Compares without leaking where the first difference is.
bool constant_time_equal(std::string_view a, std::string_view b);
// Cryptographically random bytes, hex encoded (2 * bytes characters).
std::string random_hex(std::size_t bytes);

}  // namespace villagebot::crypto
