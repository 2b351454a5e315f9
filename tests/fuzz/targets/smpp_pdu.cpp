// Fuzz target: SMPP 3.4 PDUs from the SMSC (adapters/smpp/pdu.hpp). The input is the byte stream of
// a connection, cut into PDUs the way the session reads it: 16 header octets, decode_header (an
// insane command_length ends the connection), then exactly command_length octets, each PDU in an
// allocation of its own size so that AddressSanitizer sees any read past the declared length.
// Invariants: a decoded PDU re-encodes to the same octets and decodes to the same fields (an
// empty-bodied response aside, which the encoder writes with its body), a refused PDU says why and
// with which generic_nack status, header-only answers decode, receipts carry an id and a stat, and a
// deliver_sm's user data header and text read as the adapter reads them (smpp_decode_mo) give a
// consistent concatenation and valid UTF-8. The same input also builds a PDU field by field:
// whatever the encoder accepts, the decoder gives back unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pdu.hpp"
#include "villagebot/sms.hpp"
#include "villagebot/text.hpp"

#include "fuzz_support.hpp"

namespace smpp = villagebot::smpp;
namespace sms = villagebot::sms;

namespace {

using villagebot::fuzz::check;

bool same_fields(const smpp::Pdu& a, const smpp::Pdu& b) {
  if (a.tlvs.size() != b.tlvs.size()) return false;
  for (std::size_t i = 0; i < a.tlvs.size(); ++i)
    if (a.tlvs[i].tag != b.tlvs[i].tag || a.tlvs[i].value != b.tlvs[i].value) return false;
  return a.command_id == b.command_id && a.command_status == b.command_status && a.sequence == b.sequence &&
         a.system_id == b.system_id && a.password == b.password && a.system_type == b.system_type &&
         a.interface_version == b.interface_version && a.addr_ton == b.addr_ton && a.addr_npi == b.addr_npi &&
         a.address_range == b.address_range && a.service_type == b.service_type &&
         a.source_addr_ton == b.source_addr_ton && a.source_addr_npi == b.source_addr_npi &&
         a.source_addr == b.source_addr && a.dest_addr_ton == b.dest_addr_ton && a.dest_addr_npi == b.dest_addr_npi &&
         a.destination_addr == b.destination_addr && a.esm_class == b.esm_class && a.protocol_id == b.protocol_id &&
         a.priority_flag == b.priority_flag && a.schedule_delivery_time == b.schedule_delivery_time &&
         a.validity_period == b.validity_period && a.registered_delivery == b.registered_delivery &&
         a.replace_if_present_flag == b.replace_if_present_flag && a.data_coding == b.data_coding &&
         a.sm_default_msg_id == b.sm_default_msg_id && a.short_message == b.short_message &&
         a.message_id == b.message_id;
}

// The command_ids whose encoding always writes a body (a C-octet string at least).
bool encodes_a_body(std::uint32_t id) {
  return id == smpp::cmd::bind_receiver_resp || id == smpp::cmd::bind_transmitter_resp ||
         id == smpp::cmd::bind_transceiver_resp || id == smpp::cmd::submit_sm_resp || id == smpp::cmd::deliver_sm_resp;
}

// The adapter's reading of a text from a phone (adapters/smpp/inbound.cpp smpp_decode_mo and
// smpp_text), on the SDK's codecs: the UDH split off and its concatenation element, the text by
// data_coding.
void read_like_the_adapter(const smpp::Pdu& p) {
  std::string octets = p.short_message;
  if (const smpp::Tlv* payload = p.find(smpp::tag::message_payload); payload && p.short_message.empty())
    octets = payload->value;
  if ((p.esm_class & smpp::kEsmUdhi) != 0 && !octets.empty()) {
    const std::size_t udh_length = 1 + static_cast<std::uint8_t>(octets[0]);
    if (udh_length <= octets.size()) {
      const auto concat = sms::parse_udh_concat(std::string_view(octets).substr(0, udh_length));
      if (concat) check(concat->total >= 1 && concat->sequence >= 1 && concat->sequence <= concat->total);
      octets.erase(0, udh_length);
    }
  }
  for (const std::uint16_t t : {smpp::tag::sar_msg_ref_num, smpp::tag::sar_total_segments,
                                smpp::tag::sar_segment_seqnum, smpp::tag::message_state}) {
    if (const auto v = p.tlv_integer(t)) {
      const smpp::Tlv* tlv = p.find(t);
      check(tlv != nullptr && tlv->value.size() <= 4 &&
            (tlv->value.size() == 4 || *v < (1u << (8 * tlv->value.size()))));
    }
  }
  std::string text;
  switch (p.data_coding) {
    case 0x00: {
      std::vector<std::uint8_t> septets;
      for (char c : octets) septets.push_back(static_cast<std::uint8_t>(static_cast<std::uint8_t>(c) & 0x7F));
      text = sms::gsm7_to_utf8(septets);
      break;
    }
    case 0x08:
      text = sms::ucs2_decode(octets);
      break;
    default:
      return;
  }
  check(villagebot::text::valid_utf8(text));
}

void one_pdu(std::string_view bytes) {
  // Its own allocation, exactly command_length long.
  const auto copy = std::make_unique<char[]>(bytes.size());
  std::memcpy(copy.get(), bytes.data(), bytes.size());
  const std::string_view pdu(copy.get(), bytes.size());

  const smpp::Decoded d = smpp::decode(pdu);
  if (!d.pdu) {
    check(!d.error.empty());
    check(d.nack_status == smpp::status::invalid_command_length || d.nack_status == smpp::status::invalid_command_id);
    check(!d.unknown_command || d.nack_status == smpp::status::invalid_command_id);
    return;
  }
  const smpp::Pdu& p = *d.pdu;
  std::string error;
  const auto again = smpp::encode(p, &error);
  // Everything the decoder took fits the encoder's limits, but for a 255-octet short_message
  // (sm_length is one octet; the encoder keeps to the specification's 254).
  check(again.has_value() || p.short_message.size() == 255);
  if (again) {
    const bool empty_response = pdu.size() == smpp::kHeaderLength && encodes_a_body(p.command_id);
    check(*again == pdu || empty_response);
    const smpp::Decoded back = smpp::decode(*again);
    check(back.pdu.has_value() && same_fields(*back.pdu, p));
  } else {
    check(!error.empty());
  }
  if (p.command_id == smpp::cmd::deliver_sm || p.command_id == smpp::cmd::submit_sm) {
    if (const auto receipt = smpp::parse_receipt(p)) {
      check(!receipt->message_id.empty() && !receipt->stat.empty());
      (void)receipt->final();
    }
    read_like_the_adapter(p);
  }
  (void)smpp::status_name(p.command_status);
}

// Reads fields off the front of the input.
class Fields {
 public:
  explicit Fields(std::string_view in) : in_(in) {}
  std::uint8_t u8() {
    if (in_.empty()) return 0;
    const auto v = static_cast<std::uint8_t>(in_.front());
    in_.remove_prefix(1);
    return v;
  }
  std::uint32_t u32() {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | u8();
    return v;
  }
  std::string str(std::size_t max) {
    const std::size_t wanted = u8() % (max + 1);  // before in_.size(): the length octet is consumed
    const std::size_t n = std::min(wanted, in_.size());
    std::string out(in_.substr(0, n));
    in_.remove_prefix(n);
    return out;
  }

 private:
  std::string_view in_;
};

constexpr std::uint32_t kCommands[] = {smpp::cmd::generic_nack,          smpp::cmd::bind_receiver,
                                       smpp::cmd::bind_receiver_resp,    smpp::cmd::bind_transmitter,
                                       smpp::cmd::bind_transmitter_resp, smpp::cmd::submit_sm,
                                       smpp::cmd::submit_sm_resp,        smpp::cmd::deliver_sm,
                                       smpp::cmd::deliver_sm_resp,       smpp::cmd::unbind,
                                       smpp::cmd::unbind_resp,           smpp::cmd::bind_transceiver,
                                       smpp::cmd::bind_transceiver_resp, smpp::cmd::enquire_link,
                                       smpp::cmd::enquire_link_resp};

// A PDU built from fields: what the encoder accepts decodes to the same fields.
void built(std::string_view input) {
  Fields f(input);
  smpp::Pdu p;
  p.command_id = kCommands[f.u8() % std::size(kCommands)];
  p.command_status = f.u8() < 200 ? 0 : f.u32();
  p.sequence = f.u32();
  p.system_id = f.str(17);
  p.password = f.str(10);
  p.system_type = f.str(14);
  p.address_range = f.str(42);
  p.service_type = f.str(7);
  p.source_addr_ton = f.u8();
  p.source_addr = f.str(22);
  p.destination_addr = f.str(22);
  p.esm_class = f.u8();
  p.data_coding = f.u8();
  p.registered_delivery = f.u8();
  p.schedule_delivery_time = f.str(18);
  p.short_message = f.str(255);
  p.message_id = f.str(66);
  const std::uint8_t tlvs = f.u8() % 4;
  for (std::uint8_t i = 0; i < tlvs; ++i) {
    const std::uint8_t high = f.u8();
    const std::uint16_t t = static_cast<std::uint16_t>((high << 8) | f.u8());
    p.set_tlv(t, f.str(40));
  }
  std::string error;
  const auto bytes = smpp::encode(p, &error);
  if (!bytes) {
    check(!error.empty());
    return;
  }
  const auto header = smpp::decode_header(*bytes);
  check(header && header->length == bytes->size() && header->command_id == p.command_id);
  const smpp::Decoded d = smpp::decode(*bytes);
  if (!d.pdu) {
    // The encoder writes TLVs after any body; only some commands take them.
    const bool takes_tlvs = p.command_id == smpp::cmd::submit_sm || p.command_id == smpp::cmd::deliver_sm ||
                            p.command_id == smpp::cmd::bind_receiver_resp ||
                            p.command_id == smpp::cmd::bind_transmitter_resp ||
                            p.command_id == smpp::cmd::bind_transceiver_resp;
    check(!p.tlvs.empty() && !takes_tlvs);
    return;
  }
  const smpp::Pdu& got = *d.pdu;  // the decoder reads only the fields of the command
  check(got.command_id == p.command_id && got.command_status == p.command_status && got.sequence == p.sequence);
  check(smpp::encode(got) == bytes);
  if (p.command_id == smpp::cmd::submit_sm || p.command_id == smpp::cmd::deliver_sm) {
    check(got.short_message == p.short_message && got.destination_addr == p.destination_addr &&
          got.source_addr == p.source_addr && got.esm_class == p.esm_class && got.data_coding == p.data_coding);
    check(got.tlvs.size() == p.tlvs.size());
  }
  if (p.command_id == smpp::cmd::submit_sm_resp || p.command_id == smpp::cmd::deliver_sm_resp)
    check(got.message_id == p.message_id);

  // Header-only answers, as the session writes them, always decode.
  const std::uint32_t answer = p.command_id | 0x80000000U;
  const std::string header_only = smpp::encode_header_only(answer, p.command_status, p.sequence);
  const smpp::Decoded h = smpp::decode(header_only);
  check(h.pdu && h.pdu->command_id == answer && h.pdu->command_status == p.command_status &&
        h.pdu->sequence == p.sequence);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // The connection's byte stream, PDU after PDU.
  std::string_view stream = input;
  while (stream.size() >= smpp::kHeaderLength) {
    std::string error;
    const auto header = smpp::decode_header(stream.substr(0, smpp::kHeaderLength), &error);
    if (!header) {
      check(!error.empty());
      break;  // the session drops a desynchronised connection
    }
    check(header->length >= smpp::kHeaderLength && header->length <= smpp::kMaxPduLength);
    if (header->length > stream.size()) break;  // the rest has not arrived
    one_pdu(stream.substr(0, header->length));
    stream.remove_prefix(header->length);
  }
  // The whole input as one PDU, however long it says it is.
  if (size >= smpp::kHeaderLength) one_pdu(input);

  (void)smpp::parse_receipt_text(input);
  built(input);
  return 0;
}
