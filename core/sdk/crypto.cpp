#include "villagebot/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <stdexcept>

namespace villagebot::crypto {
namespace {

// OpenSSL wants non-null pointers even for empty inputs (an empty HMAC key is
// legal and used by some webhook schemes), so empty views point here.
constexpr unsigned char kEmpty[1] = {0};

const unsigned char* bytes_of(std::string_view s) {
  return s.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view message) {
  if (key.size() > static_cast<std::size_t>(INT_MAX)) {
    throw std::length_error("hmac: key too long");
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int out_len = 0;
  if (HMAC(md, bytes_of(key), static_cast<int>(key.size()), bytes_of(message), message.size(), out.data(), &out_len) ==
      nullptr) {
    throw std::runtime_error("hmac: OpenSSL HMAC failed");
  }
  return {reinterpret_cast<const char*>(out.data()), out_len};
}

constexpr char kBase64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// -1: not in the alphabet.
constexpr std::array<std::int8_t, 256> make_base64_table() {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table) {
    v = -1;
  }
  for (int i = 0; i < 64; ++i) {
    table[static_cast<unsigned char>(kBase64Alphabet[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}
constexpr auto kBase64Table = make_base64_table();

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string sha256(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int out_len = 0;
  if (EVP_Digest(bytes_of(data), data.size(), out.data(), &out_len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("sha256: OpenSSL EVP_Digest failed");
  }
  return {reinterpret_cast<const char*>(out.data()), out_len};
}

std::string sha256_hex(std::string_view data) {
  return to_hex(sha256(data));
}

std::string hmac_sha256(std::string_view key, std::string_view message) {
  return hmac(EVP_sha256(), key, message);
}

std::string hmac_sha1(std::string_view key, std::string_view message) {
  return hmac(EVP_sha1(), key, message);
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hex_value(hex[i]);
    const int lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16) |
                            (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8) |
                            static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
    out.push_back(kBase64Alphabet[(n >> 18) & 0x3f]);
    out.push_back(kBase64Alphabet[(n >> 12) & 0x3f]);
    out.push_back(kBase64Alphabet[(n >> 6) & 0x3f]);
    out.push_back(kBase64Alphabet[n & 0x3f]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) {
      n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    }
    out.push_back(kBase64Alphabet[(n >> 18) & 0x3f]);
    out.push_back(kBase64Alphabet[(n >> 12) & 0x3f]);
    out.push_back(rest == 2 ? kBase64Alphabet[(n >> 6) & 0x3f] : '=');
    out.push_back('=');
  }
  return out;
}

// Strict RFC 4648 §4: padded, standard alphabet, no whitespace, and the unused
// bits before the padding must be zero, so that every input decodes to one
// value and signatures cannot be smuggled through alternative spellings.
std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    std::size_t pad = 0;
    if (last) {
      if (text[i + 3] == '=') ++pad;
      if (pad == 1 && text[i + 2] == '=') ++pad;
    }
    std::uint32_t n = 0;
    for (std::size_t j = 0; j < 4 - pad; ++j) {
      const std::int8_t v = kBase64Table[static_cast<unsigned char>(text[i + j])];
      if (v < 0) {
        return std::nullopt;  // also catches '=' anywhere but the end
      }
      n |= static_cast<std::uint32_t>(v) << (18 - 6 * j);
    }
    out.push_back(static_cast<char>((n >> 16) & 0xff));
    if (pad == 2) {
      if ((n & 0xffff) != 0) return std::nullopt;
      continue;
    }
    out.push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad == 1) {
      if ((n & 0xff) != 0) return std::nullopt;
      continue;
    }
    out.push_back(static_cast<char>(n & 0xff));
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // The length is not secret (signatures have a fixed size); the content is.
  if (a.size() != b.size()) {
    return false;
  }
  if (a.empty()) {
    return true;
  }
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  std::size_t done = 0;
  while (done < bytes) {
    const std::size_t chunk = std::min<std::size_t>(bytes - done, 1U << 20);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data() + done), static_cast<int>(chunk)) != 1) {
      throw std::runtime_error("random_hex: OpenSSL RAND_bytes failed");
    }
    done += chunk;
  }
  return to_hex(raw);
}

}  // namespace villagebot::crypto
