// Fuzz target: SMS-DELIVER and SMS-STATUS-REPORT PDUs (3GPP TS 23.040) as a modem gives them in PDU
// mode (adapters/modem/pdu.hpp). Input: one mode octet, one length octet, then the PDU.
//   mode & 1: the PDU is raw octets (hex-encoded here), else the hex text as the modem wrote it;
//   mode & 6: the <length> of +CMGR/+CMGL/+CDS: 0 none (-1: the PDU starts with its SMSC address),
//             2 the length octet as given, 4 the true TPDU length (the PDU without its SMSC field),
//             6 the true TPDU length of a PDU that has one (what the modem says for it);
//   mode >> 3: the concatenation reference and signature of the re-encoding.
// Invariants: a decoded text, sender and SMSC are valid UTF-8, a user data header is as long as it
// says and its concatenation is consistent, the timestamps are real dates, pdu_kind agrees with the
// decoder that accepted the PDU; and the decoded text, encoded again as SMS-SUBMITs (encode_message)
// and turned into the SMS-DELIVERs the recipient would get, decodes part by part to the same text
// with the same concatenation header.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "pdu.hpp"
#include "villagebot/sms.hpp"
#include "villagebot/text.hpp"

#include "fuzz_support.hpp"

namespace modem = villagebot::adapters::modem;
namespace sms = villagebot::sms;
using villagebot::text::valid_utf8;

namespace {

using villagebot::fuzz::check;

void check_timestamp(const modem::Timestamp& t) {
  check(t.month >= 1 && t.month <= 12 && t.day >= 1 && t.day <= 31 && t.hour <= 23 && t.minute <= 59 &&
        t.second <= 59 && t.year >= 2000 && t.year <= 2099 && t.digits.size() == 12);
  check(t.iso().size() == 25);
}

// The SMS-DELIVER a recipient gets for an SMS-SUBMIT we wrote: same PID, DCS, UDH and user data.
// Returns "" when the SUBMIT is not laid out as encode_submit lays it out.
std::string deliver_of(const modem::SubmitPdu& submit) {
  const auto bytes = modem::hex_decode(submit.hex);
  check(bytes.has_value());
  const std::string& b = *bytes;
  check(!b.empty());
  const std::size_t sca = 1u + static_cast<std::uint8_t>(b[0]);
  check(sca <= b.size() && b.size() - sca == static_cast<std::size_t>(submit.length));
  std::size_t i = sca;
  const auto at = [&](std::size_t k) {
    check(k < b.size());
    return static_cast<std::uint8_t>(b[k]);
  };
  const std::uint8_t first = at(i++);
  check((first & 0x03) == 0x01 && (first & 0x18) == 0x10);  // SMS-SUBMIT, TP-VP relative
  ++i;                                                      // TP-MR
  const std::uint8_t da_digits = at(i);
  const std::size_t da = 2u + (da_digits + 1u) / 2u;
  std::string out;
  out.push_back('\0');                             // no SMSC
  out.push_back(static_cast<char>(first & 0x40));  // SMS-DELIVER, TP-UDHI as sent
  out.append(b, i, da);                            // TP-OA = TP-DA
  i += da;
  out.push_back(static_cast<char>(at(i++)));              // TP-PID
  out.push_back(static_cast<char>(at(i++)));              // TP-DCS
  ++i;                                                    // TP-VP
  out += std::string("\x62\x11\x03\x01\x00\x00\x23", 7);  // TP-SCTS 2026-11-30 10:00:00 +08:00
  check(i < b.size());
  out.append(b, i, std::string::npos);  // TP-UDL, TP-UD
  return modem::hex_encode(out);
}

void reencode(const std::string& text, std::uint8_t knobs) {
  static const std::string kSignatures[] = {"", "【幸福村】", "[Village]"};
  const std::string& signature = kSignatures[knobs % 3];
  const auto reference = static_cast<std::uint8_t>(knobs * 37);
  modem::SubmitOptions options;
  options.status_report = (knobs & 4) != 0;
  std::string error;
  const auto pdus = modem::encode_message("+8613800000001", text, signature, reference, options, error);
  if (!pdus) {
    // Only an empty text (or an invalid one, which a decoder never gives) is refused.
    check(sms::with_signature(text, signature).empty() && !error.empty());
    return;
  }
  check(!pdus->empty() && pdus->size() <= sms::kMaxParts);
  const sms::Segments segments = sms::split(text, signature);
  check(segments.parts.size() == pdus->size());
  std::string joined;
  for (std::size_t k = 0; k < pdus->size(); ++k) {
    const modem::SubmitPdu& submit = (*pdus)[k];
    check(modem::pdu_kind(submit.hex) == modem::PduKind::submit);
    check(modem::pdu_kind(submit.hex.substr(2), submit.length) == modem::PduKind::submit);
    const std::string deliver = deliver_of(submit);
    std::string why;
    const auto d = modem::decode_deliver(deliver, why, static_cast<int>(deliver.size() / 2 - 1));
    check(d.has_value());
    check(d->text == submit.text && d->sender.value == "+8613800000001");
    if (pdus->size() > 1) {
      check(d->concat && d->concat->reference == reference && d->concat->total == pdus->size() &&
            d->concat->sequence == k + 1);
    } else {
      check(!d->concat && d->udh.empty());
    }
    joined += d->text;
  }
  if (segments.parts.size() < sms::kMaxParts) check(joined == sms::with_signature(text, signature));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t mode = data[0];
  const std::uint8_t given_length = data[1];
  const std::string_view payload(reinterpret_cast<const char*>(data) + 2, size - 2);
  const std::string hex = (mode & 1) != 0 ? modem::hex_encode(payload) : std::string(payload);
  int length = -1;
  const std::size_t octets = hex.size() / 2;
  switch (mode & 6) {
    case 2:
      length = given_length;
      break;
    case 4:
      length = static_cast<int>(octets);
      break;
    case 6: {
      const auto bytes = modem::hex_decode(hex);
      if (bytes && !bytes->empty() && 1u + static_cast<std::uint8_t>((*bytes)[0]) <= bytes->size())
        length = static_cast<int>(bytes->size() - 1u - static_cast<std::uint8_t>((*bytes)[0]));
      break;
    }
    default:
      break;
  }

  if (const auto bytes = modem::hex_decode(hex)) {
    check(bytes->size() * 2 == hex.size());
    std::string upper = hex;
    for (auto& c : upper)
      if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
    check(modem::hex_encode(*bytes) == upper);
  }

  const modem::PduKind kind = modem::pdu_kind(hex, length);
  std::string error;
  const auto d = modem::decode_deliver(hex, error, length);
  if (d) {
    check(kind == modem::PduKind::deliver);
    check(valid_utf8(d->text) && valid_utf8(d->sender.value) && valid_utf8(d->smsc));
    check(d->sender.value.size() <= 40);
    check(d->message_class >= -1 && d->message_class <= 3);
    check(d->udh.empty() || d->udh.size() == 1u + static_cast<std::uint8_t>(d->udh[0]));
    if (d->concat) {
      check(!d->udh.empty());
      check(d->concat->total >= 1 && d->concat->sequence >= 1 && d->concat->sequence <= d->concat->total);
    }
    if (d->coding == modem::DataCoding::ucs2) check(d->text == sms::ucs2_decode(d->data));
    check_timestamp(d->sent);
    reencode(d->text, static_cast<std::uint8_t>(mode >> 3));
  } else {
    check(!error.empty());
  }
  error.clear();
  if (const auto s = modem::decode_status_report(hex, error, length)) {
    check(kind == modem::PduKind::status_report);
    check(s->outcome == modem::status_outcome(s->status) && !s->reason.empty());
    check(valid_utf8(s->recipient.value) && valid_utf8(s->smsc));
    check_timestamp(s->submitted);
    check_timestamp(s->done);
  } else {
    check(!error.empty());
  }
  return 0;
}
