#pragma once
// SMS PDUs (3GPP TS 23.040) as a GSM modem takes and gives them in PDU mode (TS 27.005 AT+CMGF=0):
// SMS-SUBMIT out, SMS-DELIVER and SMS-STATUS-REPORT in. Every decoder checks each length against
// what is left of the input: a malformed PDU gives an error, never a read past its end.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "villagebot/sms.hpp"

namespace villagebot::adapters::modem {

// Hex text ⇄ bytes. nullopt for an odd length or a character that is not a hex digit.
std::optional<std::string> hex_decode(std::string_view hex);
std::string hex_encode(std::string_view bytes);

// TP-VP relative (TS 23.040 §9.2.3.12.1): 0xAA is 4 days, the classic default.
constexpr std::uint8_t kValidity4Days = 0xAA;

struct SubmitOptions {
  std::string smsc;                        // "" = the SIM's SMSC (SCA "00"); else +E.164
  bool status_report = true;               // TP-SRR: ask for a +CDS when delivered
  std::uint8_t validity = kValidity4Days;  // TP-VP, relative format
};

struct SubmitPdu {
  std::string hex;   // what follows the "> " prompt (before Ctrl-Z)
  int length = 0;    // AT+CMGS=<length>: octets after the SMSC address
  std::string text;  // this part's text (UTF-8)
};

// One SMS-SUBMIT. `to`: "+<digits>" (international, type 91) or "<digits>" (national, 81).
// `udh` starts with its UDHL octet ("" for none). nullopt + error for an invalid number or text.
std::optional<SubmitPdu> encode_submit(std::string_view to, std::string_view text, sms::Encoding encoding,
                                       std::string_view udh, const SubmitOptions& options, std::string& error);

// A whole message: signature + text split with sms::split, every part of a long one carrying the
// 8-bit concatenation header with `reference`.
std::optional<std::vector<SubmitPdu>> encode_message(std::string_view to, std::string_view text,
                                                     std::string_view signature, std::uint8_t reference,
                                                     const SubmitOptions& options, std::string& error);

struct Address {
  std::string value;  // "+8613800000001", "10086", or an alphanumeric sender's name
  std::uint8_t type = 0x81;
  [[nodiscard]] bool alphanumeric() const { return (type & 0x70) == 0x50; }
};

// TP-SCTS / TP-DT: local time of the service centre and its offset from UTC.
struct Timestamp {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int tz_quarters = 0;                    // +32 = UTC+8
  std::string digits;                     // the 14 semi-octet digits as sent (stable, for ids)
  [[nodiscard]] std::string iso() const;  // 2026-11-30T10:00:00+08:00
};

enum class DataCoding { gsm7, octets, ucs2 };

struct Deliver {
  std::string smsc;  // "" when the PDU carries none
  Address sender;
  std::uint8_t pid = 0;
  std::uint8_t dcs = 0;
  DataCoding coding = DataCoding::gsm7;
  int message_class = -1;  // 0..3, -1 none
  Timestamp sent;
  std::string udh;   // with its UDHL octet, "" for none
  std::string data;  // the user data after the header: octets (8-bit) or UTF-16BE (UCS-2)
  std::string text;  // UTF-8 (8-bit data as is when valid UTF-8, else Latin-1 read)
  std::optional<sms::ConcatInfo> concat;
};

struct StatusReport {
  enum class Outcome { delivered, pending, failed };
  std::string smsc;
  std::uint8_t reference = 0;  // TP-MR of the SUBMIT it reports on
  Address recipient;
  Timestamp submitted;  // TP-SCTS
  Timestamp done;       // TP-DT
  std::uint8_t status = 0;
  Outcome outcome = Outcome::pending;
  std::string reason;  // TP-ST in words
};

enum class PduKind { deliver, submit, status_report, unknown };

// `tpdu_length`: the <length> the modem gave (+CMGR, +CMGL, +CDS), the octets after the SMSC
// address; with it a PDU without the SMSC field is read right. -1: the PDU starts with one.
PduKind pdu_kind(std::string_view hex, int tpdu_length = -1);
std::optional<Deliver> decode_deliver(std::string_view hex, std::string& error, int tpdu_length = -1);
std::optional<StatusReport> decode_status_report(std::string_view hex, std::string& error, int tpdu_length = -1);

// TP-ST (TS 23.040 §9.2.3.15) in words and as an outcome.
StatusReport::Outcome status_outcome(std::uint8_t status);
std::string status_reason(std::uint8_t status);

}  // namespace villagebot::adapters::modem
