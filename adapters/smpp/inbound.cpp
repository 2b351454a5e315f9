// What the SMSC delivers: receipts, and texts from phones (reassembled durably when in parts).
#include <cstdio>

#include "smpp.hpp"
#include "villagebot/crypto.hpp"
#include "villagebot/text.hpp"

namespace villagebot::adapters {

namespace {

using namespace std::chrono;

std::int64_t now_ms() {
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string hex_byte(std::uint8_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", v);
  return buf;
}

}  // namespace

std::optional<std::string> smpp_text(std::string_view octets, std::uint8_t data_coding, std::string& error) {
  std::uint8_t coding = data_coding;
  if ((data_coding & 0xF0) == 0xF0) {  // the "data coding / message class" group: bit 2 says 8-bit data
    if ((data_coding & 0x04) != 0) {
      error = "data_coding " + hex_byte(data_coding) + " is binary data, not text";
      return std::nullopt;
    }
    coding = 0x00;
  }
  std::string out;
  switch (coding) {
    case 0x00: {
      std::vector<std::uint8_t> septets;
      septets.reserve(octets.size());
      for (char c : octets) septets.push_back(static_cast<std::uint8_t>(c) & 0x7F);
      return sms::gsm7_to_utf8(septets);
    }
    case 0x01:
      for (char c : octets) out.push_back(static_cast<char>(static_cast<std::uint8_t>(c) & 0x7F));
      return out;
    case 0x03:
      for (char c : octets) {
        const auto b = static_cast<std::uint8_t>(c);
        if (b < 0x80) {
          out.push_back(c);
        } else {
          out.push_back(static_cast<char>(0xC0 | (b >> 6)));
          out.push_back(static_cast<char>(0x80 | (b & 0x3F)));
        }
      }
      return out;
    case 0x08:
      if (octets.size() % 2 != 0) {
        error = "UCS-2 text of an odd number of octets";
        return std::nullopt;
      }
      return sms::ucs2_decode(octets);
    default:
      error = "data_coding " + hex_byte(data_coding) + " is not a text coding this adapter reads";
      return std::nullopt;
  }
}

std::optional<MoPart> smpp_decode_mo(const smpp::Pdu& p, std::string& error) {
  MoPart out;
  out.octets = p.short_message;
  if (const smpp::Tlv* payload = p.find(smpp::tag::message_payload)) {
    if (!p.short_message.empty()) {
      error = "both short_message and message_payload are set";
      return std::nullopt;
    }
    out.octets = payload->value;
  }
  if ((p.esm_class & smpp::kEsmUdhi) != 0) {
    if (out.octets.empty()) {
      error = "esm_class says a user data header follows, but the message is empty";
      return std::nullopt;
    }
    const std::size_t udh_length = 1 + static_cast<std::uint8_t>(out.octets[0]);
    if (udh_length > out.octets.size()) {
      error = "the user data header is longer than the message";
      return std::nullopt;
    }
    out.concat = sms::parse_udh_concat(std::string_view(out.octets).substr(0, udh_length));
    out.octets.erase(0, udh_length);
  } else if (const auto ref = p.tlv_integer(smpp::tag::sar_msg_ref_num)) {
    const auto total = p.tlv_integer(smpp::tag::sar_total_segments);
    const auto seq = p.tlv_integer(smpp::tag::sar_segment_seqnum);
    if (!total || !seq || *total > 255 || *seq > 255 || *ref > 0xFFFF) {
      error = "sar_msg_ref_num without valid sar_total_segments and sar_segment_seqnum";
      return std::nullopt;
    }
    out.concat = sms::ConcatInfo{static_cast<std::uint16_t>(*ref), static_cast<std::uint8_t>(*total),
                                 static_cast<std::uint8_t>(*seq)};
  }
  if (out.concat) {
    if (out.concat->total == 0 || out.concat->sequence == 0 || out.concat->sequence > out.concat->total) {
      error = "a part numbered " + std::to_string(out.concat->sequence) + " of " + std::to_string(out.concat->total);
      return std::nullopt;
    }
    if (out.concat->total == 1) out.concat.reset();
  }
  // Each part must be text on its own (a UCS-2 part holds whole 16-bit units).
  if (!smpp_text(out.octets, p.data_coding, error)) return std::nullopt;
  return out;
}

std::string smpp_sender(const smpp::Pdu& p) {
  std::string address = p.source_addr;
  if (p.source_addr_ton == 1 && !address.empty() && address[0] != '+') address = "+" + address;
  const auto phone = text::normalise_phone(address);
  return phone ? *phone : p.source_addr;
}

void Smpp::on_deliver(smpp::Pdu pdu, std::uint64_t connection, smpp::Respond respond) {
  // The network thread only hands over: storage and the pipeline are the worker's.
  jobs_->post([this, pdu = std::move(pdu), tag = nonce_ + ":" + std::to_string(connection),
               respond = std::move(respond)] { handle_deliver(pdu, tag, respond); });
}

void Smpp::handle_deliver(const smpp::Pdu& pdu, const std::string& connection, const smpp::Respond& respond) {
  try {
    const std::uint8_t type = pdu.esm_class & smpp::kEsmTypeMask;
    if (type == smpp::kEsmDeliveryReceipt) return handle_receipt(pdu, respond);
    if (type != 0) return respond(smpp::status::ok);  // SME and intermediate acknowledgements: nothing to do
    std::string error;
    auto part = smpp_decode_mo(pdu, error);
    if (!part) {
      ++rejected_in_;
      context_->logger().warn("refused a text from {}: {}", text::mask_phone(pdu.source_addr), error);
      return respond(smpp::status::permanent_app_error);
    }
    const std::string sender = smpp_sender(pdu);
    const std::int64_t now = now_ms();
    cleanup(now);
    Storage& storage = context_->storage();
    const std::string& id = context_->id();
    std::string octets = part->octets;
    if (part->concat) {
      const auto c = *part->concat;
      auto whole = storage.write([&](Session& s) -> std::optional<std::string> {
        // Parts of one text arrive within minutes; stored parts with the same key from over an hour
        // ago belong to an earlier text (a handset's reference counter came round), not to this one.
        s.execute(
            "DELETE FROM adapter_smpp_parts WHERE adapter_id = ? AND source = ? AND reference = ? AND total = ? "
            "AND received_at_ms < ?",
            {id, sender, std::int64_t{c.reference}, std::int64_t{c.total}, now - 3600 * 1000});
        s.execute(
            "INSERT OR REPLACE INTO adapter_smpp_parts (adapter_id, source, reference, total, seq, text, "
            "received_at_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            {id, sender, std::int64_t{c.reference}, std::int64_t{c.total}, std::int64_t{c.sequence},
             crypto::to_hex(octets), now});
        const auto rows = s.query(
            "SELECT text FROM adapter_smpp_parts WHERE adapter_id = ? AND source = ? AND reference = ? AND total = ? "
            "ORDER BY seq",
            {id, sender, std::int64_t{c.reference}, std::int64_t{c.total}});
        if (rows.size() < c.total) return std::nullopt;
        std::string all;
        for (const auto& r : rows) all += crypto::from_hex(r.text(0)).value_or("");
        return all;
      });
      ++mo_parts_;
      if (!whole) return respond(smpp::status::ok);  // stored: the SMSC may forget it
      octets = std::move(*whole);
    }
    auto text = smpp_text(octets, pdu.data_coding, error);
    if (!text) {
      ++rejected_in_;
      return respond(smpp::status::permanent_app_error);
    }
    const std::string concat_key =
        part->concat ? std::to_string(part->concat->reference) + "/" + std::to_string(part->concat->total) : "-";
    const std::string fingerprint =
        crypto::sha256_hex(sender + '\x1f' + pdu.destination_addr + '\x1f' + concat_key + '\x1f' + octets);
    const std::int64_t window_ms = duration_cast<milliseconds>(settings_.dedupe_window).count();
    const std::string message_id = storage.write([&](Session& s) {
      const auto rows = s.query(
          "SELECT message_id, acked_connection, seen_at_ms FROM adapter_smpp_inbound "
          "WHERE adapter_id = ? AND fingerprint = ?",
          {id, fingerprint});
      if (!rows.empty()) {
        const bool recent = rows[0].integer(2) >= now - window_ms;
        const bool answered_here = !rows[0].is_null(1) && rows[0].text(1) == connection;
        if (recent && !answered_here) return rows[0].text(0);  // the SMSC delivering it again
        s.execute("DELETE FROM adapter_smpp_inbound WHERE adapter_id = ? AND fingerprint = ?", {id, fingerprint});
      }
      std::string fresh = "smpp:" + fingerprint.substr(0, 32) + ":" + std::to_string(now);
      s.execute(
          "INSERT INTO adapter_smpp_inbound (adapter_id, fingerprint, message_id, acked_connection, seen_at_ms) "
          "VALUES (?, ?, ?, NULL, ?)",
          {id, fingerprint, fresh, now});
      return fresh;
    });
    InboundMessage message;
    message.channel = ChannelKind::personal;
    message.identity_kind = "phone";
    message.sender = sender;
    message.text = std::move(*text);
    message.message_id = message_id;
    submit_text(std::move(message), fingerprint, part->concat, connection, respond);
  } catch (const std::exception& e) {
    // Nothing was acknowledged: the SMSC delivers it again.
    context_->logger().error("could not take a deliver_sm from {}: {}", text::mask_phone(pdu.source_addr), e.what());
    respond(smpp::status::temporary_app_error);
  }
}

void Smpp::handle_receipt(const smpp::Pdu& pdu, const smpp::Respond& respond) {
  const auto receipt = smpp::parse_receipt(pdu);
  if (!receipt) {
    // Nothing to match it with, and nothing the SMSC could do better by sending it again.
    context_->logger().warn("a delivery receipt without a message id or stat from the SMSC");
    return respond(smpp::status::ok);
  }
  if (receipt->final()) {
    ++receipts_;
    std::string error;
    if (!receipt->delivered())
      error = "短信未送达 / not delivered: " + receipt->stat + (receipt->err.empty() ? "" : " err:" + receipt->err);
    // Acknowledged once the receipt is written; otherwise the SMSC sends it again.
    context_->report_delivery_stored(receipt->message_id, receipt->delivered(), error, [respond](bool stored) {
      respond(stored ? smpp::status::ok : smpp::status::temporary_app_error);
    });
    return;
  }
  respond(smpp::status::ok);
}

void Smpp::submit_text(InboundMessage message, const std::string& fingerprint, std::optional<sms::ConcatInfo> concat,
                       const std::string& connection, const smpp::Respond& respond) {
  ++mo_messages_;
  const InboundMessage kept = message;
  context_->submit(std::move(message),
                   [this, jobs = jobs_, kept, fingerprint, concat, connection, respond](const SubmitResult& result) {
                     jobs->post([this, kept, result, fingerprint, concat, connection, respond] {
                       finish_text(kept, result, fingerprint, concat, connection, respond);
                     });
                   });
}

void Smpp::finish_text(const InboundMessage& message, const SubmitResult& result, const std::string& fingerprint,
                       const std::optional<sms::ConcatInfo>& concat, const std::string& connection,
                       const smpp::Respond& respond) {
  const std::string& id = context_->id();
  auto forget_parts = [&](Session& s) {
    if (!concat) return;
    s.execute("DELETE FROM adapter_smpp_parts WHERE adapter_id = ? AND source = ? AND reference = ? AND total = ?",
              {id, message.sender, std::int64_t{concat->reference}, std::int64_t{concat->total}});
  };
  switch (result.status) {
    case SubmitResult::Status::processed:
    case SubmitResult::Status::duplicate:
    case SubmitResult::Status::rate_limited:
      context_->reply(message, result.replies);
      try {
        context_->storage().write([&](Session& s) {
          s.execute("UPDATE adapter_smpp_inbound SET acked_connection = ? WHERE adapter_id = ? AND fingerprint = ?",
                    {connection, id, fingerprint});
          forget_parts(s);
        });
      } catch (const std::exception& e) {
        // The message itself is durable in the pipeline; only the bookkeeping is behind.
        context_->logger().error("SMPP inbound bookkeeping failed: {}", e.what());
      }
      return respond(smpp::status::ok);
    case SubmitResult::Status::unavailable:
      return respond(smpp::status::temporary_app_error);  // parts kept: the SMSC delivers the last one again
    case SubmitResult::Status::rejected:
      ++rejected_in_;
      context_->logger().warn("the pipeline refused a text from {}: {}", text::mask_phone(message.sender),
                              result.error);
      try {
        context_->storage().write([&](Session& s) { forget_parts(s); });
      } catch (const std::exception& e) {
        context_->logger().error("SMPP inbound bookkeeping failed: {}", e.what());
      }
      return respond(smpp::status::permanent_app_error);
  }
}

void Smpp::cleanup(std::int64_t now) {
  if (now - last_cleanup_ms_ < 3600 * 1000) return;
  last_cleanup_ms_ = now;
  const std::int64_t parts_before = now - duration_cast<milliseconds>(settings_.parts_expire).count();
  const std::int64_t seen_before = now - duration_cast<milliseconds>(settings_.dedupe_window).count() - 3600 * 1000;
  const std::string& id = context_->id();
  context_->storage().write([&](Session& s) {
    const auto dropped =
        s.execute("DELETE FROM adapter_smpp_parts WHERE adapter_id = ? AND received_at_ms < ?", {id, parts_before});
    if (dropped > 0) context_->logger().warn("dropped {} parts of texts whose other parts never came", dropped);
    s.execute("DELETE FROM adapter_smpp_inbound WHERE adapter_id = ? AND seen_at_ms < ?", {id, seen_before});
  });
}

}  // namespace villagebot::adapters
