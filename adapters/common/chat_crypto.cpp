#include "chat_crypto.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <memory>
#include <vector>

#include "villagebot/crypto.hpp"

namespace villagebot::adapters {

namespace {

struct CipherFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

// AES-256-CBC with PKCS#7 padding to `block` bytes (16 for Feishu, 32 for WeCom: done by hand,
// OpenSSL's own padding is 16).
std::optional<std::string> aes_cbc(bool encrypt, std::string_view key32, std::string_view iv16, std::string_view in) {
  if (key32.size() != 32 || iv16.size() != 16) return std::nullopt;
  std::unique_ptr<EVP_CIPHER_CTX, CipherFree> ctx(EVP_CIPHER_CTX_new());
  if (!ctx ||
      EVP_CipherInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, reinterpret_cast<const unsigned char*>(key32.data()),
                        reinterpret_cast<const unsigned char*>(iv16.data()), encrypt ? 1 : 0) != 1)
    return std::nullopt;
  EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
  if (in.size() % 16 != 0 || in.empty()) return std::nullopt;
  std::string out(in.size() + 16, '\0');
  int n = 0, m = 0;
  if (EVP_CipherUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &n,
                       reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size())) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + n, &m) != 1)
    return std::nullopt;
  out.resize(static_cast<std::size_t>(n + m));
  return out;
}

std::string pad(std::string_view in, std::size_t block) {
  const std::size_t n = block - in.size() % block;
  return std::string(in) + std::string(n, static_cast<char>(n));
}

std::optional<std::string> unpad(std::string in, std::size_t block) {
  if (in.empty()) return std::nullopt;
  const auto n = static_cast<unsigned char>(in.back());
  if (n == 0 || n > block || n > in.size()) return std::nullopt;
  for (std::size_t i = in.size() - n; i < in.size(); ++i)
    if (static_cast<unsigned char>(in[i]) != n) return std::nullopt;
  in.resize(in.size() - n);
  return in;
}

std::optional<std::string> wecom_key(std::string_view encoding_aes_key) {
  if (encoding_aes_key.size() != 43) return std::nullopt;
  // 43 characters carry 258 bits for a 256-bit key; WeCom's keys leave the last two bits set,
  // which a strict decoder refuses: they are cleared (as the official libraries' decoders do).
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string text(encoding_aes_key);
  const auto last = kAlphabet.find(text.back());
  if (last == std::string_view::npos) return std::nullopt;
  text.back() = kAlphabet[last & ~std::size_t{3}];
  auto key = crypto::base64_decode(text + "=");
  if (!key || key->size() != 32) return std::nullopt;
  return key;
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() <= 15 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string mention_phone(std::string_view e164) {
  if (e164.starts_with("+86")) return std::string(e164.substr(3));
  return std::string(e164);
}

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string sha1_hex(std::string_view data) {
  std::array<unsigned char, SHA_DIGEST_LENGTH> d{};
  SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data());
  return crypto::to_hex(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

// ---- WeCom

std::string wecom_signature(std::string_view token, std::string_view timestamp, std::string_view nonce,
                            std::string_view encrypted) {
  std::vector<std::string_view> parts{token, timestamp, nonce, encrypted};
  std::sort(parts.begin(), parts.end());
  std::string joined;
  for (auto p : parts) joined += p;
  return sha1_hex(joined);
}

std::optional<WecomPlain> wecom_decrypt(std::string_view encoding_aes_key, std::string_view encrypted_base64) {
  const auto key = wecom_key(encoding_aes_key);
  const auto cipher = crypto::base64_decode(encrypted_base64);
  if (!key || !cipher) return std::nullopt;
  auto plain = aes_cbc(false, *key, std::string_view(*key).substr(0, 16), *cipher);
  if (!plain) return std::nullopt;
  plain = unpad(std::move(*plain), 32);
  if (!plain || plain->size() < 20) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(plain->data()) + 16;
  const std::size_t len = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | p[3];
  if (len > plain->size() - 20) return std::nullopt;
  return WecomPlain{plain->substr(20, len), plain->substr(20 + len)};
}

std::optional<std::string> wecom_encrypt(std::string_view encoding_aes_key, std::string_view message,
                                         std::string_view receive_id, std::string_view random16) {
  const auto key = wecom_key(encoding_aes_key);
  if (!key || random16.size() != 16) return std::nullopt;
  std::string plain(random16);
  const auto len = static_cast<std::uint32_t>(message.size());
  plain += static_cast<char>((len >> 24) & 0xFF);
  plain += static_cast<char>((len >> 16) & 0xFF);
  plain += static_cast<char>((len >> 8) & 0xFF);
  plain += static_cast<char>(len & 0xFF);
  plain += message;
  plain += receive_id;
  auto cipher = aes_cbc(true, *key, std::string_view(*key).substr(0, 16), pad(plain, 32));
  if (!cipher) return std::nullopt;
  return crypto::base64_encode(*cipher);
}

// ---- DingTalk

std::string dingtalk_sign(std::string_view secret, std::string_view timestamp_ms) {
  return crypto::base64_encode(crypto::hmac_sha256(secret, std::string(timestamp_ms) + "\n" + std::string(secret)));
}

bool dingtalk_callback_valid(std::string_view app_secret, std::string_view timestamp_ms, std::string_view sign,
                             std::int64_t now_ms) {
  if (!all_digits(timestamp_ms) || app_secret.empty()) return false;
  std::int64_t ts = 0;
  std::from_chars(timestamp_ms.data(), timestamp_ms.data() + timestamp_ms.size(), ts);
  if (ts > now_ms + 3600 * 1000 || ts < now_ms - 3600 * 1000) return false;
  return crypto::constant_time_equal(dingtalk_sign(app_secret, timestamp_ms), sign);
}

// ---- Feishu / Lark

std::string feishu_bot_sign(std::string_view secret, std::string_view timestamp_s) {
  return crypto::base64_encode(crypto::hmac_sha256(std::string(timestamp_s) + "\n" + std::string(secret), ""));
}

std::string feishu_event_signature(std::string_view timestamp, std::string_view nonce, std::string_view encrypt_key,
                                   std::string_view body) {
  return crypto::sha256_hex(std::string(timestamp) + std::string(nonce) + std::string(encrypt_key) + std::string(body));
}

std::optional<std::string> feishu_decrypt(std::string_view encrypt_key, std::string_view encrypted_base64) {
  const auto raw = crypto::base64_decode(encrypted_base64);
  if (!raw || raw->size() < 32) return std::nullopt;
  const std::string key = crypto::sha256(encrypt_key);
  auto plain = aes_cbc(false, key, std::string_view(*raw).substr(0, 16), std::string_view(*raw).substr(16));
  if (!plain) return std::nullopt;
  return unpad(std::move(*plain), 16);
}

std::optional<std::string> feishu_encrypt(std::string_view encrypt_key, std::string_view plain, std::string_view iv16) {
  const std::string key = crypto::sha256(encrypt_key);
  auto cipher = aes_cbc(true, key, iv16, pad(plain, 16));
  if (!cipher) return std::nullopt;
  return crypto::base64_encode(std::string(iv16) + *cipher);
}

// ---- Slack

std::string slack_signature(std::string_view signing_secret, std::string_view timestamp, std::string_view body) {
  return "v0=" +
         crypto::to_hex(crypto::hmac_sha256(signing_secret, "v0:" + std::string(timestamp) + ":" + std::string(body)));
}

bool slack_request_valid(std::string_view signing_secret, std::string_view timestamp, std::string_view body,
                         std::string_view signature, std::int64_t now_s) {
  if (!all_digits(timestamp) || signing_secret.empty()) return false;
  std::int64_t ts = 0;
  std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), ts);
  if (ts > now_s + 300 || ts < now_s - 300) return false;
  return crypto::constant_time_equal(slack_signature(signing_secret, timestamp, body), signature);
}

// ---- Telegram

bool telegram_secret_valid(std::string_view configured, std::string_view header) {
  return !configured.empty() && crypto::constant_time_equal(configured, header);
}

}  // namespace villagebot::adapters
