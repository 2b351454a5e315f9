#include "callback.hpp"

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
