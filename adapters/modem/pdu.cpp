#include "pdu.hpp"

#include <cstdio>

#include "villagebot/text.hpp"

namespace villagebot::adapters::modem {

namespace {

constexpr char kHex[] = "0123456789ABCDEF";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Semi-octet digits (TS 23.040 §9.1.2.3): low nibble first, F fills the last octet.
std::string semi_octets(std::string_view digits) {
  std::string out;
  for (std::size_t i = 0; i < digits.size(); i += 2) {
    const unsigned lo = static_cast<unsigned>(digits[i] - '0');
    const unsigned hi = i + 1 < digits.size() ? static_cast<unsigned>(digits[i + 1] - '0') : 0xFu;
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

bool all_digits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return !s.empty();
}

// A cursor over the PDU's bytes: every read says whether the bytes were there.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool u8(std::uint8_t& out) {
    if (pos_ >= bytes_.size()) return false;
    out = static_cast<std::uint8_t>(bytes_[pos_++]);
    return true;
  }
  bool take(std::size_t n, std::string_view& out) {
    if (n > bytes_.size() - pos_) return false;
    out = bytes_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  [[nodiscard]] std::string_view rest() const { return bytes_.substr(pos_); }
  [[nodiscard]] std::size_t left() const { return bytes_.size() - pos_; }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

std::string decode_digits(std::string_view octets, std::size_t count) {
  static constexpr char kDigits[] = "0123456789*#abc";
  std::string out;
  for (std::size_t i = 0; i < count && i / 2 < octets.size(); ++i) {
    const auto b = static_cast<unsigned char>(octets[i / 2]);
    const unsigned nibble = (i % 2 == 0) ? (b & 0x0Fu) : (b >> 4);
    if (nibble == 0xF) break;
    out.push_back(kDigits[nibble]);
  }
  return out;
}

// TP-OA / TP-RA / TP-DA: the length counts useful semi-octets (digits, or the 4-bit units of an
// alphanumeric name packed in GSM-7).
bool read_address(Reader& r, Address& out, std::string& error, const char* what) {
  std::uint8_t len = 0;
  if (!r.u8(len) || !r.u8(out.type)) {
    error = std::string("the PDU ends inside the ") + what;
    return false;
  }
  std::string_view raw;
  if (len > 20 || !r.take((len + 1u) / 2u, raw)) {
    error = std::string("the ") + what + " is longer than the PDU";
    return false;
  }
  if (out.alphanumeric()) {
    out.value = sms::gsm7_to_utf8(sms::gsm7_unpack(raw, len * 4u / 7u));
    return true;
  }
  out.value = decode_digits(raw, len);
  if ((out.type & 0x70) == 0x10 && !out.value.empty()) out.value.insert(0, "+");
  return true;
}

bool read_smsc(Reader& r, int tpdu_length, std::size_t total, std::string& smsc, std::string& error) {
  if (tpdu_length >= 0 && static_cast<std::size_t>(tpdu_length) == total) return true;  // no SCA field
  std::uint8_t len = 0;
  if (!r.u8(len)) {
    error = "an empty PDU";
    return false;
  }
  if (len == 0) return true;
  std::string_view raw;
  if (len > 12 || !r.take(len, raw)) {
    error = "the service centre address is longer than the PDU";
    return false;
  }
  smsc = decode_digits(raw.substr(1), (len - 1u) * 2u);
  if ((static_cast<unsigned char>(raw[0]) & 0x70) == 0x10 && !smsc.empty()) smsc.insert(0, "+");
  return true;
}

bool read_timestamp(Reader& r, Timestamp& t, std::string& error, const char* what) {
  std::string_view raw;
  if (!r.take(7, raw)) {
    error = std::string("the PDU ends inside the ") + what;
    return false;
  }
  int v[6] = {};
  for (int i = 0; i < 6; ++i) {
    const auto b = static_cast<unsigned char>(raw[static_cast<std::size_t>(i)]);
    const int lo = b & 0x0F;
    const int hi = b >> 4;
    if (lo > 9 || hi > 9) {
      error = std::string("the ") + what + " holds a digit that is not 0-9";
      return false;
    }
    v[i] = lo * 10 + hi;
    t.digits.push_back(static_cast<char>('0' + lo));
    t.digits.push_back(static_cast<char>('0' + hi));
  }
  const auto tz = static_cast<unsigned char>(raw[6]);
  const int quarters = (tz & 0x07) * 10 + (tz >> 4);
  t.tz_quarters = (tz & 0x08) != 0 ? -quarters : quarters;
  t.year = 2000 + v[0];
  t.month = v[1];
  t.day = v[2];
  t.hour = v[3];
  t.minute = v[4];
  t.second = v[5];
  if (t.month < 1 || t.month > 12 || t.day < 1 || t.day > 31 || t.hour > 23 || t.minute > 59 || t.second > 59) {
    error = std::string("the ") + what + " is not a valid date";
    return false;
  }
  return true;
}

// TS 23.038 §4: the alphabet and the message class of a DCS.
bool read_dcs(std::uint8_t dcs, DataCoding& coding, int& message_class, std::string& error) {
  message_class = -1;
  const unsigned group = dcs >> 4;
  if (group <= 0x7) {  // general data coding (0x) or marked for automatic deletion (01xx)
    if ((dcs & 0x20) != 0) {
      error = "compressed user data is not supported";
      return false;
    }
    if ((dcs & 0x10) != 0) message_class = dcs & 0x03;
    switch ((dcs >> 2) & 0x03) {
      case 0:
        coding = DataCoding::gsm7;
        return true;
      case 1:
        coding = DataCoding::octets;
        return true;
      case 2:
        coding = DataCoding::ucs2;
        return true;
      default:
        error = "a reserved alphabet in the data coding scheme";
        return false;
    }
  }
  if (group == 0xC || group == 0xD) {  // message waiting indication, GSM-7
    coding = DataCoding::gsm7;
    return true;
  }
  if (group == 0xE) {
    coding = DataCoding::ucs2;
    return true;
  }
  if (group == 0xF) {
    coding = (dcs & 0x04) != 0 ? DataCoding::octets : DataCoding::gsm7;
    message_class = dcs & 0x03;
    return true;
  }
  error = "a reserved data coding scheme";
  return false;
}

std::string latin1_to_utf8(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x80) {
      out.push_back(c);
    } else {
      out.push_back(static_cast<char>(0xC0 | (b >> 6)));
      out.push_back(static_cast<char>(0x80 | (b & 0x3F)));
    }
  }
  return out;
}

// TP-UDL and TP-UD, the user data header split off (TS 23.040 §9.2.3.16, §9.2.3.24).
bool read_user_data(Reader& r, bool has_udh, Deliver& d, std::string& error) {
  std::uint8_t udl = 0;
  if (!r.u8(udl)) {
    error = "the PDU ends before the user data length";
    return false;
  }
  const bool septets = d.coding == DataCoding::gsm7;
  if (septets ? udl > 160 : udl > 140) {
    error = "the user data length is larger than one SMS holds";
    return false;
  }
  const std::size_t octets = septets ? (udl * 7u + 7u) / 8u : udl;
  std::string_view ud;
  if (!r.take(octets, ud)) {
    error = "the user data length runs past the end of the PDU";
    return false;
  }
  std::size_t header = 0;
  if (has_udh) {
    if (ud.empty()) {
      error = "a user data header flag without user data";
      return false;
    }
    header = static_cast<unsigned char>(ud[0]) + 1u;
    if (header > ud.size()) {
      error = "the user data header is longer than the user data";
      return false;
    }
    d.udh = std::string(ud.substr(0, header));
    d.concat = sms::parse_udh_concat(d.udh);
  }
  if (septets) {
    const std::size_t header_septets = (header * 8 + 6) / 7;
    if (header_septets > udl) {
      error = "the user data header is longer than the user data";
      return false;
    }
    const int fill = static_cast<int>(header_septets * 7 - header * 8);
    const auto chars = sms::gsm7_unpack(ud.substr(header), udl - header_septets, fill);
    d.data = std::string(chars.begin(), chars.end());
    d.text = sms::gsm7_to_utf8(chars);
    return true;
  }
  d.data = std::string(ud.substr(header));
  if (d.coding == DataCoding::ucs2) {
    d.text = sms::ucs2_decode(d.data);
  } else {
    d.text = text::valid_utf8(d.data) ? d.data : latin1_to_utf8(d.data);
  }
  return true;
}

bool to_bytes(std::string_view hex, std::string& bytes, std::string& error) {
  auto b = hex_decode(hex);
  if (!b) {
    error = "the PDU is not an even number of hex digits";
    return false;
  }
  bytes = std::move(*b);
  return true;
}

}  // namespace

std::optional<std::string> hex_decode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hex_value(hex[i]);
    const int lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

std::string hex_encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0x0F]);
  }
  return out;
}

std::string Timestamp::iso() const {
  char buf[40];
  const int q = tz_quarters < 0 ? -tz_quarters : tz_quarters;
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", year, month, day, hour, minute, second,
                tz_quarters < 0 ? '-' : '+', q / 4, (q % 4) * 15);
  return buf;
}

std::optional<SubmitPdu> encode_submit(std::string_view to, std::string_view text, sms::Encoding encoding,
                                       std::string_view udh, const SubmitOptions& options, std::string& error) {
  const bool international = to.starts_with("+");
  const std::string_view digits = international ? to.substr(1) : to;
  if (!all_digits(digits) || digits.size() > 20) {
    error = "the number '" + std::string(to) + "' is not a phone number (digits, optionally after +)";
    return std::nullopt;
  }
  std::string sca;
  if (options.smsc.empty()) {
    sca.push_back('\0');
  } else {
    const std::string_view s = std::string_view(options.smsc).substr(options.smsc.starts_with("+") ? 1 : 0);
    if (!all_digits(s) || s.size() > 20) {
      error = "the SMSC '" + options.smsc + "' is not a phone number";
      return std::nullopt;
    }
    const std::string packed = semi_octets(s);
    sca.push_back(static_cast<char>(packed.size() + 1));
    sca.push_back(static_cast<char>(options.smsc.starts_with("+") ? 0x91 : 0x81));
    sca += packed;
  }
  std::uint8_t first = 0x01 | 0x10;  // SMS-SUBMIT, TP-VPF relative
  if (options.status_report) first |= 0x20;
  if (!udh.empty()) first |= 0x40;
  std::string tpdu;
  tpdu.push_back(static_cast<char>(first));
  tpdu.push_back('\0');  // TP-MR: the modem sets it
  tpdu.push_back(static_cast<char>(digits.size()));
  tpdu.push_back(static_cast<char>(international ? 0x91 : 0x81));
  tpdu += semi_octets(digits);
  tpdu.push_back('\0');  // TP-PID: plain SME-to-SME
  tpdu.push_back(encoding == sms::Encoding::gsm7 ? '\x00' : '\x08');
  tpdu.push_back(static_cast<char>(options.validity));
  if (encoding == sms::Encoding::gsm7) {
    auto septets = sms::gsm7_septets(text);
    if (!septets) {
      error = "the text has characters outside the GSM 7-bit alphabet";
      return std::nullopt;
    }
    const int fill = static_cast<int>((7 - (udh.size() * 8) % 7) % 7);
    const std::size_t udl = (udh.size() * 8 + static_cast<std::size_t>(fill)) / 7 + septets->size();
    if (udl > 160) {
      error = "the text does not fit in one SMS (" + std::to_string(udl) + " septets)";
      return std::nullopt;
    }
    tpdu.push_back(static_cast<char>(udl));
    tpdu += udh;
    tpdu += sms::gsm7_pack(*septets, fill);
  } else {
    const std::string data = sms::ucs2_encode(text);
    const std::size_t udl = udh.size() + data.size();
    if (udl > 140) {
      error = "the text does not fit in one SMS (" + std::to_string(udl) + " octets)";
      return std::nullopt;
    }
    tpdu.push_back(static_cast<char>(udl));
    tpdu += udh;
    tpdu += data;
  }
  SubmitPdu out;
  out.hex = hex_encode(sca + tpdu);
  out.length = static_cast<int>(tpdu.size());
  out.text = std::string(text);
  return out;
}

std::optional<std::vector<SubmitPdu>> encode_message(std::string_view to, std::string_view text,
                                                     std::string_view signature, std::uint8_t reference,
                                                     const SubmitOptions& options, std::string& error) {
  if (!text::valid_utf8(text)) {
    error = "the text is not valid UTF-8";
    return std::nullopt;
  }
  const sms::Segments segments = sms::split(text, signature);
  if (segments.parts.empty() || (segments.parts.size() == 1 && segments.parts[0].empty())) {
    error = "an empty message";
    return std::nullopt;
  }
  std::vector<SubmitPdu> out;
  const auto total = static_cast<std::uint8_t>(segments.parts.size());
  for (std::size_t i = 0; i < segments.parts.size(); ++i) {
    const std::string udh =
        total > 1 ? sms::udh_concat8(reference, total, static_cast<std::uint8_t>(i + 1)) : std::string();
    auto pdu = encode_submit(to, segments.parts[i], segments.encoding, udh, options, error);
    if (!pdu) return std::nullopt;
    out.push_back(std::move(*pdu));
  }
  return out;
}

PduKind pdu_kind(std::string_view hex, int tpdu_length) {
  std::string bytes;
  std::string error;
  if (!to_bytes(hex, bytes, error)) return PduKind::unknown;
  Reader r(bytes);
  std::string smsc;
  if (!read_smsc(r, tpdu_length, bytes.size(), smsc, error)) return PduKind::unknown;
  std::uint8_t first = 0;
  if (!r.u8(first)) return PduKind::unknown;
  switch (first & 0x03) {
    case 0:
      return PduKind::deliver;
    case 1:
      return PduKind::submit;
    case 2:
      return PduKind::status_report;
    default:
      return PduKind::unknown;
  }
}

std::optional<Deliver> decode_deliver(std::string_view hex, std::string& error, int tpdu_length) {
  std::string bytes;
  if (!to_bytes(hex, bytes, error)) return std::nullopt;
  Reader r(bytes);
  Deliver d;
  if (!read_smsc(r, tpdu_length, bytes.size(), d.smsc, error)) return std::nullopt;
  std::uint8_t first = 0;
  if (!r.u8(first)) {
    error = "the PDU ends after the service centre address";
    return std::nullopt;
  }
  if ((first & 0x03) != 0) {
    error = "not an SMS-DELIVER (TP-MTI " + std::to_string(first & 0x03) + ")";
    return std::nullopt;
  }
  if (!read_address(r, d.sender, error, "sender's address")) return std::nullopt;
  if (!r.u8(d.pid) || !r.u8(d.dcs)) {
    error = "the PDU ends before the data coding scheme";
    return std::nullopt;
  }
  if (!read_dcs(d.dcs, d.coding, d.message_class, error)) return std::nullopt;
  if (!read_timestamp(r, d.sent, error, "service centre time stamp")) return std::nullopt;
  if (!read_user_data(r, (first & 0x40) != 0, d, error)) return std::nullopt;
  return d;
}

StatusReport::Outcome status_outcome(std::uint8_t status) {
  if (status <= 0x1F) return StatusReport::Outcome::delivered;
  if (status <= 0x3F) return StatusReport::Outcome::pending;
  return StatusReport::Outcome::failed;  // 0x40.. permanent, 0x60.. gave up; reserved values count as rejected
}

std::string status_reason(std::uint8_t status) {
  switch (status) {
    case 0x00:
      return "received by the recipient";
    case 0x01:
      return "forwarded, delivery not confirmed";
    case 0x02:
      return "replaced by the service centre";
    case 0x20:
      return "congestion, still trying";
    case 0x21:
      return "the recipient is busy, still trying";
    case 0x22:
      return "no response from the recipient, still trying";
    case 0x23:
      return "service rejected, still trying";
    case 0x24:
      return "quality of service not available, still trying";
    case 0x25:
      return "error in the recipient's phone, still trying";
    case 0x40:
      return "remote procedure error";
    case 0x41:
      return "incompatible destination";
    case 0x42:
      return "connection rejected by the recipient";
    case 0x43:
      return "not obtainable";
    case 0x44:
      return "quality of service not available";
    case 0x45:
      return "no interworking available";
    case 0x46:
      return "the message's validity period expired";
    case 0x47:
      return "deleted by the sender";
    case 0x48:
      return "deleted by the service centre's administration";
    case 0x49:
      return "the message does not exist";
    case 0x60:
      return "congestion, the service centre gave up";
    case 0x61:
      return "the recipient was busy, the service centre gave up";
    case 0x62:
      return "no response from the recipient, the service centre gave up";
    case 0x63:
      return "service rejected, the service centre gave up";
    case 0x64:
      return "quality of service not available, the service centre gave up";
    case 0x65:
      return "error in the recipient's phone, the service centre gave up";
    default:
      break;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "status 0x%02X", static_cast<unsigned>(status));
  const auto outcome = status_outcome(status);
  return std::string(buf) + (outcome == StatusReport::Outcome::delivered ? " (completed)"
                             : outcome == StatusReport::Outcome::pending ? " (still trying)"
                                                                         : " (failed)");
}

std::optional<StatusReport> decode_status_report(std::string_view hex, std::string& error, int tpdu_length) {
  std::string bytes;
  if (!to_bytes(hex, bytes, error)) return std::nullopt;
  Reader r(bytes);
  StatusReport s;
  if (!read_smsc(r, tpdu_length, bytes.size(), s.smsc, error)) return std::nullopt;
  std::uint8_t first = 0;
  if (!r.u8(first)) {
    error = "the PDU ends after the service centre address";
    return std::nullopt;
  }
  if ((first & 0x03) != 2) {
    error = "not an SMS-STATUS-REPORT (TP-MTI " + std::to_string(first & 0x03) + ")";
    return std::nullopt;
  }
  if (!r.u8(s.reference)) {
    error = "the PDU ends before the message reference";
    return std::nullopt;
  }
  if (!read_address(r, s.recipient, error, "recipient's address")) return std::nullopt;
  if (!read_timestamp(r, s.submitted, error, "service centre time stamp")) return std::nullopt;
  if (!read_timestamp(r, s.done, error, "discharge time")) return std::nullopt;
  if (!r.u8(s.status)) {
    error = "the PDU ends before the status";
    return std::nullopt;
  }
  s.outcome = status_outcome(s.status);
  s.reason = status_reason(s.status);
  return s;
}

}  // namespace villagebot::adapters::modem
