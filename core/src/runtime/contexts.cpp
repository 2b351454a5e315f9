#include "runtime/contexts.hpp"

#include "support/logging.hpp"

namespace villagebot::runtime {

PluginContextImpl::PluginContextImpl(const Services& services, std::string name)
    : services_(services),
      name_(std::move(name)),
      commands_(services.router, name_),
      routes_(services.routes, "/api/v1/" + name_, false),
      logger_(support::make_logger(name_)) {}

AdapterContextImpl::AdapterContextImpl(std::string id, pipeline::Pipeline& pipeline, http::RouteTable& routes,
                                       HttpClient& client, Storage& storage, std::function<void()> shutdown,
                                       ReceiptFn receipts, SendFn send, OptOutFn opt_out)
    : id_(std::move(id)),
      pipeline_(pipeline),
      routes_(routes, "/hooks/" + id_, true),
      client_(client),
      storage_(storage),
      opt_out_(std::move(opt_out)),
      shutdown_(std::move(shutdown)),
      receipts_(std::move(receipts)),
      send_(std::move(send)),
      logger_(support::make_logger("adapter." + id_)) {}

void AdapterContextImpl::reply(const InboundMessage& to, const Replies& replies) {
  for (const auto& r : replies) {
    OutboundMessage out;
    out.adapter_id = id_;
    out.channel = to.channel;
    out.address = to.channel == ChannelKind::group ? to.chat_id : to.sender;
    out.text = r.text;
    out.priority = Priority::reply;
    // One key per reply: a callback the platform repeats (it retries when slow) is answered once.
    if (!to.message_id.empty())
      out.idempotency_key = "reply:" + id_ + ":" + to.message_id + ":" + std::to_string(&r - replies.data());
    send_(std::move(out));
  }
}

void AdapterContextImpl::submit(InboundMessage message, std::function<void(SubmitResult)> done) {
  message.adapter_id = id_;  // an adapter speaks only for itself
  pipeline_.submit(std::move(message), std::move(done));
}

}  // namespace villagebot::runtime
