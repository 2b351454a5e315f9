#pragma once
// What every chat adapter's callback does once a message is verified and parsed: submit it, hand
// the replies to the outbox through the adapter's own send() (the platforms take no answer in the
// callback's response), and answer the platform — `ok` when the message is durable, 400 when the
// pipeline rejects it, 503 (the platform tries again) when it cannot be stored.
#include <cstdint>
#include <string>
#include <vector>

#include "villagebot/adapter.hpp"

namespace villagebot::adapters {

// A string member of a platform's JSON, else "": json::value() throws on a member of another
// type, and an odd payload must be refused or judged, not escape as an exception (found by the
// fuzz targets).
inline std::string string_member(const nlohmann::json& o, const char* key) {
  const auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}
// An integer member, else `fallback` (the same reason).
inline std::int64_t integer_member(const nlohmann::json& o, const char* key, std::int64_t fallback) {
  const auto it = o.find(key);
  return it != o.end() && it->is_number_integer() ? it->get<std::int64_t>() : fallback;
}

void submit_and_reply(AdapterContext& context, InboundMessage message, const Responder& respond, HttpResponse ok);

// A gateway's delivery receipt (an SMS gateway's status push).
struct Receipt {
  std::string provider_id;
  bool delivered = false;
  std::string error{};
};
// Records the receipts, then answers `ok` once every one is durable, or 503 when one could not be
// written (the gateway pushes again; a receipt applied twice changes nothing).
void report_and_answer(AdapterContext& context, const std::vector<Receipt>& receipts, const Responder& respond,
                       HttpResponse ok);

// A public callback route under /hooks/<adapter id>/ with a body limit.
Registration add_callback_route(AdapterContext& context, std::string method, std::string path, std::string summary,
                                std::size_t max_body_bytes, HttpHandler handler);

}  // namespace villagebot::adapters
