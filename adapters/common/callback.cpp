#include "callback.hpp"

#include <atomic>
#include <memory>

namespace villagebot::adapters {

void submit_and_reply(AdapterContext& context, InboundMessage message, const Responder& respond, HttpResponse ok) {
  const InboundMessage kept = message;
  context.submit(std::move(message), [&context, kept, respond, ok = std::move(ok)](const SubmitResult& result) {
    switch (result.status) {
      case SubmitResult::Status::processed:
      case SubmitResult::Status::duplicate:
      case SubmitResult::Status::rate_limited:
        context.reply(kept, result.replies);
        respond(ok);
        return;
      case SubmitResult::Status::rejected:
        respond(HttpResponse::error(400, "bad_request", result.error));
        return;
      case SubmitResult::Status::unavailable:
        respond(HttpResponse::error(503, "unavailable", result.error));
        return;
    }
  });
}

void report_and_answer(AdapterContext& context, const std::vector<Receipt>& receipts, const Responder& respond,
                       HttpResponse ok) {
  if (receipts.empty()) return respond(std::move(ok));
  struct Pending {
    std::atomic<std::size_t> left;
    std::atomic<bool> all_stored{true};
    Responder respond;
    HttpResponse ok;
  };
  auto pending = std::make_shared<Pending>();
  pending->left = receipts.size();
  pending->respond = respond;
  pending->ok = std::move(ok);
  for (const auto& r : receipts)
    context.report_delivery_stored(r.provider_id, r.delivered, r.error, [pending](bool stored) {
      if (!stored) pending->all_stored = false;
      if (pending->left.fetch_sub(1) != 1) return;
      if (pending->all_stored)
        pending->respond(std::move(pending->ok));
      else
        pending->respond(HttpResponse::error(503, "unavailable", "a receipt could not be stored; send it again"));
    });
}

Registration add_callback_route(AdapterContext& context, std::string method, std::string path, std::string summary,
                                std::size_t max_body_bytes, HttpHandler handler) {
  RouteSpec spec;
  spec.method = std::move(method);
  spec.path = std::move(path);
  spec.public_route = true;
  spec.max_body_bytes = max_body_bytes;
  spec.summary = std::move(summary);
  spec.handler = std::move(handler);
  return context.routes().add(std::move(spec));
}

}  // namespace villagebot::adapters
