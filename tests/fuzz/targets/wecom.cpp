// Fuzz target: the WeCom (企业微信) application callback (adapters/wecom, adapters/common/chat_crypto):
// the signed, AES-encrypted XML message, the GET URL check (echostr), the XML fields, the cipher, and
// WeCom's API answers. Input: a mode byte ('0'…'4'), then fields separated by 0x1F.
//   0  body, query: a raw callback as anyone could send it (never accepted: the signature is WeCom's)
//   1  content, from, msg id, msg type: a text message laid out as WeCom writes it, encrypted and
//      signed with the fixed key: its fields come back exactly, whatever the villager typed
//   2  plaintext XML, receive id: any plaintext, encrypted and signed: fields are pieces of it
//   3  echo message, receive id: the URL check, echostr as WeCom sends it (raw or %-encoded)
//   4  HTTP status, body: an answer of WeCom's API (never throws)
// Invariants: nothing is accepted without the right msg_signature or for another corp; a parsed
// message has a sender and an id and is valid UTF-8 when the plaintext was; decrypt(encrypt(x)) == x.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat_crypto.hpp"
#include "villagebot/crypto.hpp"
#include "villagebot/text.hpp"
#include "wecom.hpp"

#include "fuzz_support.hpp"

namespace {

using villagebot::fuzz::check;
using villagebot::fuzz::split;
using villagebot::fuzz::status_of;

using namespace villagebot;
using namespace villagebot::adapters;

constexpr const char* kAesKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
constexpr const char* kCorp = "wx5823bf96d3bd56c7";  // the receive id of WeCom's published example
constexpr const char* kToken = "QDG6eK";
constexpr const char* kRandom = "0123456789abcdef";
constexpr const char* kTimestamp = "1732838400";
constexpr const char* kNonce = "1234567";

// `n` fields separated by 0x1F; the last one takes the rest, missing ones are empty.
WecomSettings settings() {
  WecomSettings s;
  s.corp_id = kCorp;
  s.token = kToken;
  s.encoding_aes_key = kAesKey;
  return s;
}

bool contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

// A message out of the callback: what the pipeline needs, nothing the plaintext did not say.
void check_message(const InboundMessage& m, const std::string& plain) {
  check(!m.sender.empty());
  check(!m.message_id.empty());
  check(m.identity_kind == "wecom");
  check(contains(plain, m.sender) && contains(plain, m.text) && contains(plain, m.message_id));
  if (text::valid_utf8(plain))
    check(text::valid_utf8(m.text) && text::valid_utf8(m.sender) && text::valid_utf8(m.message_id));
}

std::string outer_body(const std::string& encrypted) {
  return std::string("<xml><ToUserName><![CDATA[") + kCorp +
         "]]></ToUserName><AgentID><![CDATA[1000002]]></AgentID><Encrypt><![CDATA[" + encrypted + "]]></Encrypt></xml>";
}

HttpRequest signed_post(const std::string& encrypted, const std::string& signature) {
  HttpRequest r;
  r.method = "POST";
  r.body = outer_body(encrypted);
  r.query = "msg_signature=" + signature + "&timestamp=" + kTimestamp + "&nonce=" + kNonce;
  return r;
}

// Encrypts the plaintext for `receive_id`, signs it, and parses it; a wrong signature and a missing
// one are refused whatever the plaintext.
WecomCallback post_encrypted(const WecomSettings& s, const std::string& plain, const std::string& receive_id) {
  const auto encrypted = wecom_encrypt(kAesKey, plain, receive_id, kRandom);
  check(encrypted.has_value());
  const auto back = wecom_decrypt(kAesKey, *encrypted);
  check(back && back->message == plain && back->receive_id == receive_id);
  const std::string signature = wecom_signature(kToken, kTimestamp, kNonce, *encrypted);
  std::string wrong = signature;
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  auto bad = signed_post(*encrypted, wrong);
  check(wecom_parse_message(s, bad).status == 401);
  bad.query = std::string("timestamp=") + kTimestamp + "&nonce=" + kNonce;
  check(wecom_parse_message(s, bad).status == 400);
  const auto r = wecom_parse_message(s, signed_post(*encrypted, signature));
  if (receive_id != kCorp) check(r.status == 401 && !r.message);
  check(r.status == 200 || r.status == 400 || r.status == 401);
  check((r.status == 200) == r.error.empty());
  if (r.message) {
    check(r.status == 200);
    check_message(*r.message, plain);
  }
  return r;
}

void raw_callback(const WecomSettings& s, const std::string& body, const std::string& query) {
  HttpRequest r;
  r.method = "POST";
  r.body = body;
  r.query = query;
  const auto posted = wecom_parse_message(s, r);
  check(posted.status == 200 || posted.status == 400 || posted.status == 401);
  if (posted.status == 200) {  // only with WeCom's signature over the ciphertext
    const auto encrypted = xml_field(body, "Encrypt");
    check(encrypted.has_value());
    check(r.query_param("msg_signature") ==
          wecom_signature(kToken, r.query_param("timestamp"), r.query_param("nonce"), *encrypted));
  }
  r.method = "GET";
  const auto verified = wecom_verify_url(s, r);
  check(verified.status == 200 || verified.status == 400 || verified.status == 401);
  check(!verified.message);
  if (verified.status == 200) {
    std::string echostr = r.query_param("echostr");
    for (char& c : echostr)
      if (c == ' ') c = '+';
    check(r.query_param("msg_signature") ==
          wecom_signature(kToken, r.query_param("timestamp"), r.query_param("nonce"), echostr));
  }
  for (const char* tag : {"Encrypt", "ToUserName", "Content", "MsgId", "", "!["}) {
    const auto v = xml_field(body, tag);
    if (v) check(contains(body, *v));
  }
  if (const auto plain = wecom_decrypt(kAesKey, body)) {
    const auto again = wecom_encrypt(kAesKey, plain->message, plain->receive_id, kRandom);
    check(again.has_value());
    const auto back = wecom_decrypt(kAesKey, *again);
    check(back && back->message == plain->message && back->receive_id == plain->receive_id);
  }
  if (body.size() >= 43) (void)wecom_decrypt(std::string_view(body).substr(0, 43), std::string_view(body).substr(43));
}

// A text message as WeCom lays it out: every string in a CDATA section (which cannot hold "]]>").
void text_message(const WecomSettings& s, const std::string& content, const std::string& from, const std::string& id,
                  const std::string& type_field) {
  const std::string type = type_field.empty() ? "text" : type_field;
  const std::string plain = std::string("<xml><ToUserName><![CDATA[") + kCorp +
                            "]]></ToUserName><FromUserName><![CDATA[" + from + "]]></FromUserName><CreateTime>" +
                            kTimestamp + "</CreateTime><MsgType><![CDATA[" + type + "]]></MsgType><Content><![CDATA[" +
                            content + "]]></Content><MsgId>" + id + "</MsgId><AgentID>1000002</AgentID></xml>";
  const auto r = post_encrypted(s, plain, kCorp);
  const bool well_formed = !contains(content, "]]>") && !contains(from, "]]>") && !contains(type, "]]>") &&
                           id.find_first_not_of("0123456789") == std::string::npos;
  if (!well_formed) return;
  if (type != "text") {
    check(r.status == 200 && !r.message);  // events and other kinds: acknowledged, not submitted
  } else if (from.empty() || id.empty()) {
    check(r.status == 400);
  } else {
    check(r.status == 200 && r.message);
    check(r.message->sender == from && r.message->text == content && r.message->message_id == id);
  }
}

void url_check(const WecomSettings& s, const std::string& echo, const std::string& receive_field, bool encode) {
  const std::string receive_id = receive_field.empty() ? std::string(kCorp) : receive_field;
  const auto echostr = wecom_encrypt(kAesKey, echo, receive_id, kRandom);
  check(echostr.has_value());
  const std::string signature = wecom_signature(kToken, kTimestamp, kNonce, *echostr);
  HttpRequest r;
  r.method = "GET";
  r.query = "msg_signature=" + signature + "&timestamp=" + kTimestamp + "&nonce=" + kNonce +
            "&echostr=" + (encode ? url_encode(*echostr) : *echostr);
  const auto v = wecom_verify_url(s, r);
  if (receive_id == kCorp) {
    check(v.status == 200 && v.echo == echo);
  } else {
    check(v.status == 401);
  }
  r.query = "msg_signature=" + wecom_signature(kToken, kTimestamp, kNonce, "x") + "&timestamp=" + kTimestamp +
            "&nonce=" + kNonce + "&echostr=" + url_encode(*echostr);
  check(wecom_verify_url(s, r).status == 401);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned mode = static_cast<unsigned char>(data[0] - '0') % 5;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const WecomSettings s = settings();
  switch (mode) {
    case 0: {
      const auto f = split(rest, 2);
      raw_callback(s, f[0], f[1]);
      break;
    }
    case 1: {
      const auto f = split(rest, 4);
      text_message(s, f[0], f[1], f[2], f[3]);
      break;
    }
    case 2: {
      const auto f = split(rest, 2);
      (void)post_encrypted(s, f[0], f[1].empty() ? std::string(kCorp) : f[1]);
      break;
    }
    case 3: {
      const auto f = split(rest, 2);
      url_check(s, f[0], f[1], !f[0].empty() && (static_cast<unsigned char>(f[0][0]) & 1) != 0);
      break;
    }
    default: {
      const auto f = split(rest, 2);
      ClientResponse response;
      response.status = status_of(f[0]);
      response.body = f[1];
      bool token_invalid = false;
      const auto result = wecom_result(response, 60, &token_invalid);
      check(result.retry_after_s >= 0);
      if (result.status == SendResult::Status::sent) check(response.status == 200);
      break;
    }
  }
  return 0;
}
