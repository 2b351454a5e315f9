#include "pdu.hpp"

#include <cctype>
#include <cstdio>

namespace villagebot::smpp {

namespace {

// Maximum sizes of C-octet strings, the terminating NUL included (§5.2).
constexpr std::size_t kSystemId = 16;
constexpr std::size_t kPassword = 9;
constexpr std::size_t kSystemType = 13;
constexpr std::size_t kAddressRange = 41;
constexpr std::size_t kServiceType = 6;
constexpr std::size_t kAddr = 21;
constexpr std::size_t kTime = 17;
constexpr std::size_t kMessageId = 65;
constexpr std::size_t kShortMessage = 254;

class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(std::uint16_t v) {
    u8(static_cast<std::uint8_t>(v >> 8));
    u8(static_cast<std::uint8_t>(v & 0xFF));
  }
  void u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v >> 16));
    u16(static_cast<std::uint16_t>(v & 0xFFFF));
  }
  bool cstr(std::string_view s, std::size_t max, const char* field) {
    if (s.size() + 1 > max || s.find('\0') != std::string_view::npos) {
      if (error_.empty())
        error_ = std::string(field) + " is longer than SMPP allows (" + std::to_string(max - 1) + " octets)";
      return false;
    }
    out_.append(s);
    out_.push_back('\0');
    return true;
  }
  void raw(std::string_view s) { out_.append(s); }
  std::string& bytes() { return out_; }
  std::string& error() { return error_; }

 private:
  std::string out_;
  std::string error_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool u8(std::uint8_t& v) {
    if (pos_ + 1 > in_.size()) return fail("the PDU ends inside a field");
    v = static_cast<std::uint8_t>(in_[pos_++]);
    return true;
  }
  bool u16(std::uint16_t& v) {
    std::uint8_t a = 0, b = 0;
    if (!u8(a) || !u8(b)) return false;
    v = static_cast<std::uint16_t>((a << 8) | b);
    return true;
  }
  bool cstr(std::string& v, std::size_t max, const char* field) {
    const std::size_t limit = std::min(in_.size(), pos_ + max);
    for (std::size_t i = pos_; i < limit; ++i)
      if (in_[i] == '\0') {
        v.assign(in_.substr(pos_, i - pos_));
        pos_ = i + 1;
        return true;
      }
    return fail(std::string(field) + " has no terminating NUL within " + std::to_string(max) + " octets");
  }
  bool bytes(std::string& v, std::size_t n) {
    if (pos_ + n > in_.size()) return fail("a length points past the end of the PDU");
    v.assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  [[nodiscard]] std::size_t left() const { return in_.size() - pos_; }
  [[nodiscard]] const std::string& error() const { return error_; }
  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
  std::string error_;
};

std::uint32_t be32(std::string_view b, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<std::uint8_t>(b[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<std::uint8_t>(b[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<std::uint8_t>(b[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<std::uint8_t>(b[at + 3]));
}

bool write_sm(Writer& w, const Pdu& p) {
  bool ok = w.cstr(p.service_type, kServiceType, "service_type");
  w.u8(p.source_addr_ton);
  w.u8(p.source_addr_npi);
  ok = w.cstr(p.source_addr, kAddr, "source_addr") && ok;
  w.u8(p.dest_addr_ton);
  w.u8(p.dest_addr_npi);
  ok = w.cstr(p.destination_addr, kAddr, "destination_addr") && ok;
  w.u8(p.esm_class);
  w.u8(p.protocol_id);
  w.u8(p.priority_flag);
  ok = w.cstr(p.schedule_delivery_time, kTime, "schedule_delivery_time") && ok;
  ok = w.cstr(p.validity_period, kTime, "validity_period") && ok;
  w.u8(p.registered_delivery);
  w.u8(p.replace_if_present_flag);
  w.u8(p.data_coding);
  w.u8(p.sm_default_msg_id);
  if (p.short_message.size() > kShortMessage) {
    if (w.error().empty()) w.error() = "short_message is longer than 254 octets (use message_payload)";
    return false;
  }
  w.u8(static_cast<std::uint8_t>(p.short_message.size()));
  w.raw(p.short_message);
  return ok;
}

bool read_sm(Reader& r, Pdu& p) {
  std::uint8_t sm_length = 0;
  return r.cstr(p.service_type, kServiceType, "service_type") && r.u8(p.source_addr_ton) && r.u8(p.source_addr_npi) &&
         r.cstr(p.source_addr, kAddr, "source_addr") && r.u8(p.dest_addr_ton) && r.u8(p.dest_addr_npi) &&
         r.cstr(p.destination_addr, kAddr, "destination_addr") && r.u8(p.esm_class) && r.u8(p.protocol_id) &&
         r.u8(p.priority_flag) && r.cstr(p.schedule_delivery_time, kTime, "schedule_delivery_time") &&
         r.cstr(p.validity_period, kTime, "validity_period") && r.u8(p.registered_delivery) &&
         r.u8(p.replace_if_present_flag) && r.u8(p.data_coding) && r.u8(p.sm_default_msg_id) && r.u8(sm_length) &&
         r.bytes(p.short_message, sm_length);
}

bool read_tlvs(Reader& r, Pdu& p) {
  while (r.left() > 0) {
    if (r.left() < 4) return r.fail("a truncated optional parameter");
    Tlv t;
    std::uint16_t len = 0;
    if (!r.u16(t.tag) || !r.u16(len) || !r.bytes(t.value, len)) return false;
    p.tlvs.push_back(std::move(t));
  }
  return true;
}

bool known_command(std::uint32_t id) {
  switch (id) {
    case cmd::generic_nack:
    case cmd::bind_receiver_resp:
    case cmd::bind_transmitter_resp:
    case cmd::bind_transceiver_resp:
    case cmd::bind_receiver:
    case cmd::bind_transmitter:
    case cmd::bind_transceiver:
    case cmd::submit_sm:
    case cmd::submit_sm_resp:
    case cmd::deliver_sm:
    case cmd::deliver_sm_resp:
    case cmd::unbind:
    case cmd::unbind_resp:
    case cmd::enquire_link:
    case cmd::enquire_link_resp:
      return true;
    default:
      return false;
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The value after `key` (searched case-insensitively at a word start) up to the next space.
std::string receipt_field(std::string_view text, const std::string& lowered, std::string_view key) {
  std::size_t at = 0;
  while ((at = lowered.find(key, at)) != std::string::npos) {
    if (at == 0 || lowered[at - 1] == ' ') break;
    ++at;
  }
  if (at == std::string::npos) return {};
  const std::size_t begin = at + key.size();
  const std::size_t end = text.find(' ', begin);
  return std::string(text.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin));
}

}  // namespace

const Tlv* Pdu::find(std::uint16_t t) const {
  for (const auto& tlv : tlvs)
    if (tlv.tag == t) return &tlv;
  return nullptr;
}

std::optional<std::uint32_t> Pdu::tlv_integer(std::uint16_t t) const {
  const Tlv* tlv = find(t);
  if (!tlv || tlv->value.empty() || tlv->value.size() > 4 || tlv->value.size() == 3) return std::nullopt;
  std::uint32_t v = 0;
  for (char c : tlv->value) v = (v << 8) | static_cast<std::uint8_t>(c);
  return v;
}

void Pdu::set_tlv(std::uint16_t t, std::string value) {
  for (auto& tlv : tlvs)
    if (tlv.tag == t) {
      tlv.value = std::move(value);
      return;
    }
  tlvs.push_back({t, std::move(value)});
}

void Pdu::set_tlv_integer(std::uint16_t t, std::uint32_t value, int octets) {
  std::string v;
  for (int i = octets - 1; i >= 0; --i) v.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
  set_tlv(t, std::move(v));
}

std::optional<std::string> encode(const Pdu& p, std::string* error) {
  Writer w;
  w.u32(0);  // command_length, filled in below
  w.u32(p.command_id);
  w.u32(p.command_status);
  w.u32(p.sequence);
  bool ok = true;
  switch (p.command_id) {
    case cmd::bind_transceiver:
    case cmd::bind_transmitter:
    case cmd::bind_receiver:
      ok = w.cstr(p.system_id, kSystemId, "system_id") && w.cstr(p.password, kPassword, "password") &&
           w.cstr(p.system_type, kSystemType, "system_type");
      w.u8(p.interface_version);
      w.u8(p.addr_ton);
      w.u8(p.addr_npi);
      ok = w.cstr(p.address_range, kAddressRange, "address_range") && ok;
      break;
    case cmd::bind_transceiver_resp:
    case cmd::bind_transmitter_resp:
    case cmd::bind_receiver_resp:
      ok = w.cstr(p.system_id, kSystemId, "system_id");
      break;
    case cmd::submit_sm:
    case cmd::deliver_sm:
      ok = write_sm(w, p);
      break;
    case cmd::submit_sm_resp:
    case cmd::deliver_sm_resp:
      ok = w.cstr(p.message_id, kMessageId, "message_id");
      break;
    default:
      break;  // header-only PDUs
  }
  for (const auto& t : p.tlvs) {
    if (t.value.size() > 0xFFFF) {
      ok = false;
      if (w.error().empty()) w.error() = "an optional parameter is longer than 65535 octets";
      break;
    }
    w.u16(t.tag);
    w.u16(static_cast<std::uint16_t>(t.value.size()));
    w.raw(t.value);
  }
  std::string& out = w.bytes();
  if (ok && out.size() > kMaxPduLength) {
    ok = false;
    w.error() = "the PDU is longer than " + std::to_string(kMaxPduLength) + " octets";
  }
  if (!ok) {
    if (error) *error = w.error();
    return std::nullopt;
  }
  const auto n = static_cast<std::uint32_t>(out.size());
  for (int i = 0; i < 4; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (24 - 8 * i)) & 0xFF);
  return std::move(out);
}

std::string encode_header_only(std::uint32_t command_id, std::uint32_t command_status, std::uint32_t sequence) {
  Pdu p;
  p.command_id = command_id;
  p.command_status = command_status;
  p.sequence = sequence;
  if (command_id == cmd::submit_sm_resp || command_id == cmd::deliver_sm_resp) {
    // deliver_sm_resp always carries its (empty) message_id; so does an OK submit_sm_resp.
    if (command_id == cmd::deliver_sm_resp || command_status == status::ok) return *encode(p);
  }
  Writer w;
  w.u32(kHeaderLength);
  w.u32(command_id);
  w.u32(command_status);
  w.u32(sequence);
  return std::move(w.bytes());
}

std::optional<Header> decode_header(std::string_view b, std::string* error) {
  if (b.size() < kHeaderLength) {
    if (error) *error = "a PDU shorter than its 16-octet header";
    return std::nullopt;
  }
  Header h{be32(b, 0), be32(b, 4), be32(b, 8), be32(b, 12)};
  if (h.length < kHeaderLength || h.length > kMaxPduLength) {
    if (error)
      *error = "command_length " + std::to_string(h.length) + " is outside 16.." + std::to_string(kMaxPduLength);
    return std::nullopt;
  }
  return h;
}

Decoded decode(std::string_view bytes) {
  Decoded d;
  auto h = decode_header(bytes, &d.error);
  if (!h) {
    d.nack_status = status::invalid_command_length;
    return d;
  }
  if (h->length != bytes.size()) {
    d.error = "command_length " + std::to_string(h->length) + " differs from the " + std::to_string(bytes.size()) +
              " octets received";
    d.nack_status = status::invalid_command_length;
    return d;
  }
  if (!known_command(h->command_id)) {
    d.error = "unknown command_id " + command_name(h->command_id);
    d.nack_status = status::invalid_command_id;
    d.unknown_command = true;
    return d;
  }
  Pdu p;
  p.command_id = h->command_id;
  p.command_status = h->command_status;
  p.sequence = h->sequence;
  Reader r(bytes.substr(kHeaderLength));
  bool ok = true;
  // An error response may come without a body (§3.2: only the header when command_status ≠ 0).
  const bool empty_ok = is_response(p.command_id) && (p.command_status != status::ok || r.left() == 0);
  if (!(empty_ok && r.left() == 0)) {
    switch (p.command_id) {
      case cmd::bind_transceiver:
      case cmd::bind_transmitter:
      case cmd::bind_receiver:
        ok = r.cstr(p.system_id, kSystemId, "system_id") && r.cstr(p.password, kPassword, "password") &&
             r.cstr(p.system_type, kSystemType, "system_type") && r.u8(p.interface_version) && r.u8(p.addr_ton) &&
             r.u8(p.addr_npi) && r.cstr(p.address_range, kAddressRange, "address_range");
        break;
      case cmd::bind_transceiver_resp:
      case cmd::bind_transmitter_resp:
      case cmd::bind_receiver_resp:
        ok = r.cstr(p.system_id, kSystemId, "system_id") && read_tlvs(r, p);
        break;
      case cmd::submit_sm:
      case cmd::deliver_sm:
        ok = read_sm(r, p) && read_tlvs(r, p);
        break;
      case cmd::submit_sm_resp:
      case cmd::deliver_sm_resp:
        ok = r.cstr(p.message_id, kMessageId, "message_id");
        break;
      default:
        break;
    }
    if (ok && r.left() > 0 &&
        !(p.command_id == cmd::submit_sm || p.command_id == cmd::deliver_sm ||
          p.command_id == cmd::bind_transceiver_resp || p.command_id == cmd::bind_transmitter_resp ||
          p.command_id == cmd::bind_receiver_resp))
      ok = r.fail("octets left after the last field");
  }
  if (!ok) {
    d.error = command_name(p.command_id) + ": " + r.error();
    d.nack_status = status::invalid_command_length;
    return d;
  }
  d.pdu = std::move(p);
  return d;
}

bool is_response(std::uint32_t command_id) {
  return (command_id & 0x80000000U) != 0;
}

std::string status_name(std::uint32_t s) {
  const char* name = nullptr;
  switch (s) {
    case 0x00:
      name = "ESME_ROK";
      break;
    case 0x01:
      name = "ESME_RINVMSGLEN";
      break;
    case 0x02:
      name = "ESME_RINVCMDLEN";
      break;
    case 0x03:
      name = "ESME_RINVCMDID";
      break;
    case 0x04:
      name = "ESME_RINVBNDSTS";
      break;
    case 0x05:
      name = "ESME_RALYBND";
      break;
    case 0x08:
      name = "ESME_RSYSERR";
      break;
    case 0x0A:
      name = "ESME_RINVSRCADR";
      break;
    case 0x0B:
      name = "ESME_RINVDSTADR";
      break;
    case 0x0C:
      name = "ESME_RINVMSGID";
      break;
    case 0x0D:
      name = "ESME_RBINDFAIL";
      break;
    case 0x0E:
      name = "ESME_RINVPASWD";
      break;
    case 0x0F:
      name = "ESME_RINVSYSID";
      break;
    case 0x14:
      name = "ESME_RMSGQFUL";
      break;
    case 0x15:
      name = "ESME_RINVSERTYP";
      break;
    case 0x45:
      name = "ESME_RSUBMITFAIL";
      break;
    case 0x48:
      name = "ESME_RINVSRCTON";
      break;
    case 0x49:
      name = "ESME_RINVSRCNPI";
      break;
    case 0x50:
      name = "ESME_RINVDSTTON";
      break;
    case 0x51:
      name = "ESME_RINVDSTNPI";
      break;
    case 0x58:
      name = "ESME_RTHROTTLED";
      break;
    case 0x62:
      name = "ESME_RINVEXPIRY";
      break;
    case 0x64:
      name = "ESME_RX_T_APPN";
      break;
    case 0x65:
      name = "ESME_RX_P_APPN";
      break;
    case 0x66:
      name = "ESME_RX_R_APPN";
      break;
    case 0xFF:
      name = "ESME_RUNKNOWNERR";
      break;
    default:
      break;
  }
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%08X", s);
  return name ? std::string(name) + " (" + hex + ")" : std::string("status ") + hex;
}

std::string command_name(std::uint32_t id) {
  const char* name = nullptr;
  switch (id) {
    case cmd::generic_nack:
      name = "generic_nack";
      break;
    case cmd::bind_receiver:
      name = "bind_receiver";
      break;
    case cmd::bind_receiver_resp:
      name = "bind_receiver_resp";
      break;
    case cmd::bind_transmitter:
      name = "bind_transmitter";
      break;
    case cmd::bind_transmitter_resp:
      name = "bind_transmitter_resp";
      break;
    case cmd::bind_transceiver:
      name = "bind_transceiver";
      break;
    case cmd::bind_transceiver_resp:
      name = "bind_transceiver_resp";
      break;
    case cmd::submit_sm:
      name = "submit_sm";
      break;
    case cmd::submit_sm_resp:
      name = "submit_sm_resp";
      break;
    case cmd::deliver_sm:
      name = "deliver_sm";
      break;
    case cmd::deliver_sm_resp:
      name = "deliver_sm_resp";
      break;
    case cmd::unbind:
      name = "unbind";
      break;
    case cmd::unbind_resp:
      name = "unbind_resp";
      break;
    case cmd::enquire_link:
      name = "enquire_link";
      break;
    case cmd::enquire_link_resp:
      name = "enquire_link_resp";
      break;
    default:
      break;
  }
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%08X", id);
  return name ? std::string(name) : std::string(hex);
}

std::optional<Receipt> parse_receipt_text(std::string_view text) {
  const std::string lowered = lower(text);
  Receipt r;
  r.message_id = receipt_field(text, lowered, "id:");
  r.stat = receipt_field(text, lowered, "stat:");
  if (r.message_id.empty() && r.stat.empty()) return std::nullopt;
  for (auto& c : r.stat) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  r.err = receipt_field(text, lowered, "err:");
  r.submit_date = receipt_field(text, lowered, "submit date:");
  r.done_date = receipt_field(text, lowered, "done date:");
  const auto t = lowered.find("text:");
  if (t != std::string::npos) r.text = std::string(text.substr(t + 5));
  return r;
}

std::string message_state_stat(std::uint32_t state) {
  switch (state) {
    case 1:
      return "ENROUTE";
    case 2:
      return "DELIVRD";
    case 3:
      return "EXPIRED";
    case 4:
      return "DELETED";
    case 5:
      return "UNDELIV";
    case 6:
      return "ACCEPTD";
    case 8:
      return "REJECTD";
    default:
      return "UNKNOWN";
  }
}

std::optional<Receipt> parse_receipt(const Pdu& p) {
  std::string text = p.short_message;
  if (const Tlv* payload = p.find(tag::message_payload); payload && text.empty()) text = payload->value;
  Receipt r = parse_receipt_text(text).value_or(Receipt{});
  if (const Tlv* id = p.find(tag::receipted_message_id)) {
    std::string v = id->value;
    while (!v.empty() && v.back() == '\0') v.pop_back();  // a C-octet string inside the TLV
    if (!v.empty()) r.message_id = v;
  }
  if (auto state = p.tlv_integer(tag::message_state)) r.stat = message_state_stat(*state);
  if (r.message_id.empty() || r.stat.empty()) return std::nullopt;
  return r;
}

}  // namespace villagebot::smpp
