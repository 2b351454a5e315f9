#pragma once
// SMPP 3.4 PDUs (the SMPP Developers Forum's "Short Message Peer to Peer Protocol Specification
// v3.4", 1999): the 16-octet header (command_length, command_id, command_status, sequence_number,
// big-endian) and the bodies an ESME in transceiver mode sends and receives. Decoding takes
// hostile input: every length is checked against the PDU, C-octet strings against their maximum
// size, command_length against kMaxPduLength; nothing is read past the end.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace villagebot::smpp {

// command_id (§5.1.2.1)
namespace cmd {
constexpr std::uint32_t generic_nack = 0x80000000;
constexpr std::uint32_t bind_receiver = 0x00000001;
constexpr std::uint32_t bind_receiver_resp = 0x80000001;
constexpr std::uint32_t bind_transmitter = 0x00000002;
constexpr std::uint32_t bind_transmitter_resp = 0x80000002;
constexpr std::uint32_t submit_sm = 0x00000004;
constexpr std::uint32_t submit_sm_resp = 0x80000004;
constexpr std::uint32_t deliver_sm = 0x00000005;
constexpr std::uint32_t deliver_sm_resp = 0x80000005;
constexpr std::uint32_t unbind = 0x00000006;
constexpr std::uint32_t unbind_resp = 0x80000006;
constexpr std::uint32_t bind_transceiver = 0x00000009;
constexpr std::uint32_t bind_transceiver_resp = 0x80000009;
constexpr std::uint32_t enquire_link = 0x00000015;
constexpr std::uint32_t enquire_link_resp = 0x80000015;
}  // namespace cmd

// command_status (§5.1.3)
namespace status {
constexpr std::uint32_t ok = 0x00000000;
constexpr std::uint32_t invalid_message_length = 0x00000001;  // ESME_RINVMSGLEN
constexpr std::uint32_t invalid_command_length = 0x00000002;  // ESME_RINVCMDLEN
constexpr std::uint32_t invalid_command_id = 0x00000003;      // ESME_RINVCMDID
constexpr std::uint32_t system_error = 0x00000008;            // ESME_RSYSERR
constexpr std::uint32_t bind_failed = 0x0000000D;             // ESME_RBINDFAIL
constexpr std::uint32_t invalid_password = 0x0000000E;        // ESME_RINVPASWD
constexpr std::uint32_t invalid_system_id = 0x0000000F;       // ESME_RINVSYSID
constexpr std::uint32_t message_queue_full = 0x00000014;      // ESME_RMSGQFUL
constexpr std::uint32_t submit_failed = 0x00000045;           // ESME_RSUBMITFAIL
constexpr std::uint32_t throttled = 0x00000058;               // ESME_RTHROTTLED
constexpr std::uint32_t temporary_app_error = 0x00000064;     // ESME_RX_T_APPN
constexpr std::uint32_t permanent_app_error = 0x00000065;     // ESME_RX_P_APPN
}  // namespace status

// Optional parameter tags (§5.3.2)
namespace tag {
constexpr std::uint16_t receipted_message_id = 0x001E;
constexpr std::uint16_t user_message_reference = 0x0204;
constexpr std::uint16_t sar_msg_ref_num = 0x020C;
constexpr std::uint16_t sar_total_segments = 0x020E;
constexpr std::uint16_t sar_segment_seqnum = 0x020F;
constexpr std::uint16_t sc_interface_version = 0x0210;
constexpr std::uint16_t message_payload = 0x0424;
constexpr std::uint16_t message_state = 0x0427;
}  // namespace tag

// esm_class bits (§5.2.12)
constexpr std::uint8_t kEsmUdhi = 0x40;
constexpr std::uint8_t kEsmTypeMask = 0x3C;
constexpr std::uint8_t kEsmDeliveryReceipt = 0x04;

constexpr std::size_t kHeaderLength = 16;
// Far above any legal PDU (a submit_sm with a full message_payload is about 64 KiB): anything
// longer is an attack or a desynchronised stream.
constexpr std::uint32_t kMaxPduLength = 64 * 1024 + 512;

struct Tlv {
  std::uint16_t tag = 0;
  std::string value{};
};

// One PDU; only the fields of its command_id are encoded or decoded.
struct Pdu {
  std::uint32_t command_id = 0;
  std::uint32_t command_status = 0;
  std::uint32_t sequence = 0;
  // bind_*
  std::string system_id{};
  std::string password{};
  std::string system_type{};
  std::uint8_t interface_version = 0x34;
  std::uint8_t addr_ton = 0;
  std::uint8_t addr_npi = 0;
  std::string address_range{};
  // submit_sm / deliver_sm
  std::string service_type{};
  std::uint8_t source_addr_ton = 0;
  std::uint8_t source_addr_npi = 0;
  std::string source_addr{};
  std::uint8_t dest_addr_ton = 0;
  std::uint8_t dest_addr_npi = 0;
  std::string destination_addr{};
  std::uint8_t esm_class = 0;
  std::uint8_t protocol_id = 0;
  std::uint8_t priority_flag = 0;
  std::string schedule_delivery_time{};
  std::string validity_period{};
  std::uint8_t registered_delivery = 0;
  std::uint8_t replace_if_present_flag = 0;
  std::uint8_t data_coding = 0;
  std::uint8_t sm_default_msg_id = 0;
  std::string short_message{};  // raw octets, at most 254
  // submit_sm_resp / deliver_sm_resp
  std::string message_id{};
  std::vector<Tlv> tlvs{};

  [[nodiscard]] const Tlv* find(std::uint16_t t) const;
  [[nodiscard]] std::optional<std::uint32_t> tlv_integer(std::uint16_t t) const;  // 1, 2 or 4 octets
  void set_tlv(std::uint16_t t, std::string value);
  void set_tlv_integer(std::uint16_t t, std::uint32_t value, int octets);
};

// The wire bytes, or nothing with `error` set (a field longer than SMPP allows).
std::optional<std::string> encode(const Pdu& pdu, std::string* error = nullptr);
// A response or generic_nack with an empty body (what error responses carry).
std::string encode_header_only(std::uint32_t command_id, std::uint32_t command_status, std::uint32_t sequence);

struct Header {
  std::uint32_t length = 0;
  std::uint32_t command_id = 0;
  std::uint32_t command_status = 0;
  std::uint32_t sequence = 0;
};
// The first 16 octets; `error` set when command_length is below 16 or above kMaxPduLength.
std::optional<Header> decode_header(std::string_view sixteen_octets, std::string* error = nullptr);

struct Decoded {
  std::optional<Pdu> pdu;
  std::string error;              // what is wrong, when pdu is empty
  std::uint32_t nack_status = 0;  // the generic_nack status to answer with
  bool unknown_command = false;   // a well-framed PDU of a command this ESME does not take
};
// A whole PDU (header included).
Decoded decode(std::string_view bytes);

[[nodiscard]] bool is_response(std::uint32_t command_id);
// "ESME_RTHROTTLED (0x00000058)"
std::string status_name(std::uint32_t status);
std::string command_name(std::uint32_t command_id);

// A delivery receipt (Appendix B): the short_message text
// "id:IIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:…"
// and/or the TLVs receipted_message_id and message_state, which win when present.
struct Receipt {
  std::string message_id;
  std::string stat;  // DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD, ENROUTE
  std::string err;
  std::string submit_date;
  std::string done_date;
  std::string text;
  [[nodiscard]] bool delivered() const { return stat == "DELIVRD"; }
  // ENROUTE, ACCEPTD: not yet an outcome.
  [[nodiscard]] bool final() const { return stat != "ENROUTE" && stat != "ACCEPTD" && !stat.empty(); }
};
std::optional<Receipt> parse_receipt_text(std::string_view text);
std::optional<Receipt> parse_receipt(const Pdu& deliver_sm);
// message_state (§5.3.2.35) as the receipt's stat word.
std::string message_state_stat(std::uint32_t state);

}  // namespace villagebot::smpp
