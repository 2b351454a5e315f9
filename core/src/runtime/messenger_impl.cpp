#include "runtime/messenger_impl.hpp"

#include <spdlog/spdlog.h>

#include "pipeline/message_log.hpp"
#include "villagebot/text.hpp"

namespace villagebot::runtime {

namespace log = pipeline::message_log;

MessengerImpl::MessengerImpl(Storage& storage, Directory& directory, support::Metrics& metrics,
                             std::function<void(std::function<void()>)> run_blocking)
    : storage_(storage), directory_(directory), metrics_(metrics), run_blocking_(std::move(run_blocking)) {
  metrics_.describe("villagebot_outbound_messages_total", "counter", "Outbound messages by adapter and result");
}

void MessengerImpl::set_adapters(std::vector<Route> adapters) {
  adapters_ = std::move(adapters);
}

Adapter* MessengerImpl::find(const std::string& id) const {
  for (const auto& r : adapters_)
    if (r.id == id) return r.adapter;
  return nullptr;
}

std::int64_t MessengerImpl::send_to_person(std::int64_t person_id, const std::string& text,
                                           const SendOptions& options) {
  auto person = directory_.person(person_id);
  if (!person) {
    spdlog::warn("send_to_person: no person {}", person_id);
    return 0;
  }
  for (const auto& r : adapters_) {
    const std::string kind = r.adapter->identity_kind();
    std::optional<std::string> address;
    if (kind == "phone") {
      if (!person->phone.empty()) address = person->phone;
    } else {
      address = directory_.identity_of(person_id, kind);
    }
    if (!address) continue;
    // Opted-out people are not reached by non-essential SMS; try a chat channel instead.
    if (r.adapter->is_sms() && person->opted_out && !options.essential) continue;
    OutboundMessage m;
    m.adapter_id = r.id;
    m.channel = ChannelKind::personal;
    m.address = *address;
    m.text = text;
    m.priority = options.priority;
    m.essential = options.essential;
    m.idempotency_key = options.idempotency_key;
    m.person_id = person_id;
    return send(std::move(m));
  }
  spdlog::info("no channel reaches person {} (opted out or no address)", person_id);
  return 0;
}

std::int64_t MessengerImpl::send(OutboundMessage message) {
  Adapter* adapter = find(message.adapter_id);
  if (adapter == nullptr) {
    spdlog::error("send: no adapter '{}'", message.adapter_id);
    return 0;
  }
  if (adapter->is_sms() && !message.essential && message.person_id != 0) {
    auto person = directory_.person(message.person_id);
    if (person && person->opted_out) {
      storage_.write([&](Session& s) { log::insert_outbound(s, message, "skipped", "opted out (退订)"); });
      metrics_.add("villagebot_outbound_messages_total",
                   support::label("adapter", message.adapter_id) + "," + support::label("result", "skipped"));
      return 0;
    }
  }
  const std::int64_t id = storage_.write([&](Session& s) { return log::insert_outbound(s, message, "queued", ""); });
  run_blocking_([this, adapter, id, m = std::move(message)] {
    SendResult result;
    try {
      result = adapter->send(m);
    } catch (const std::exception& e) {
      result = SendResult::permanent(std::string("adapter failed: ") + e.what());
    }
    const char* status = result.status == SendResult::Status::sent ? "sent" : "failed";
    if (result.status != SendResult::Status::sent)
      spdlog::warn("sending to {} through {} failed: {}", text::mask_phone(m.address), m.adapter_id, result.error);
    metrics_.add("villagebot_outbound_messages_total",
                 support::label("adapter", m.adapter_id) + "," + support::label("result", status));
    storage_.write_async(
        [id, status, error = result.error](Session& s) { log::set_outbound_status(s, id, status, error); }, nullptr);
  });
  return id;
}

}  // namespace villagebot::runtime
