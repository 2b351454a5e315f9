// Fuzz target: what a GSM modem writes on its serial line (adapters/modem/at.hpp, and the PDUs the
// lines carry through adapters/modem/pdu.hpp). The input is the byte stream; it is cut into lines
// and routed the way ModemLink::consume and ModemLink::line do (CR or LF ends a line, trailing blanks
// dropped; +CDS and +CMT announce a PDU on the next line, +CMTI a stored message, the network's
// URCs are logged with their phone numbers masked; a command's lines run until OK, ERROR,
// +CMS ERROR or +CME ERROR, and +CMGR/+CMGL are followed by their PDU), then each command's lines
// are read as the modem adapter reads them (parse_stored, parse_cmgs, error_number, cms_verdict).
// Invariants: every number parsed is in its range, a final result is recognised as final, a
// +CMS ERROR's verdict names its code, the PDUs found decode to valid UTF-8 with a consistent
// concatenation, and pdu_kind agrees with the decoder that accepted a PDU.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "at.hpp"
#include "pdu.hpp"
#include "villagebot/text.hpp"

#include "fuzz_support.hpp"

namespace modem = villagebot::adapters::modem;
using villagebot::text::valid_utf8;

namespace {

using villagebot::fuzz::check;

void check_timestamp(const modem::Timestamp& t) {
  check(t.month >= 1 && t.month <= 12 && t.day >= 1 && t.day <= 31 && t.hour <= 23 && t.minute <= 59 &&
        t.second <= 59 && t.digits.size() == 12);
  check(t.iso().size() == 25);
}

// A PDU line, as the adapter treats it: pdu_kind first, then the decoder of that kind.
void pdu_line(const std::string& hex, int length) {
  const modem::PduKind kind = modem::pdu_kind(hex, length);
  std::string error;
  if (const auto d = modem::decode_deliver(hex, error, length)) {
    check(kind == modem::PduKind::deliver);
    check(valid_utf8(d->text) && valid_utf8(d->sender.value) && valid_utf8(d->smsc));
    if (d->concat) check(d->concat->total >= 1 && d->concat->sequence >= 1 && d->concat->sequence <= d->concat->total);
    check(d->udh.empty() || d->udh.size() == 1u + static_cast<std::uint8_t>(d->udh[0]));
    check_timestamp(d->sent);
  } else {
    check(!error.empty());
  }
  error.clear();
  if (const auto s = modem::decode_status_report(hex, error, length)) {
    check(kind == modem::PduKind::status_report);
    check(s->outcome == modem::status_outcome(s->status) && !s->reason.empty());
    check(valid_utf8(s->recipient.value));
    check_timestamp(s->submitted);
    check_timestamp(s->done);
  } else {
    check(!error.empty());
  }
}

// The lines of one command, once its final result came.
void command_result(const std::vector<std::string>& lines, const std::string& final) {
  check(modem::is_final_result(final));
  for (const std::string_view prefix : {"+CMS ERROR", "+CME ERROR"}) {
    if (const auto code = modem::error_number(final, prefix)) {
      check(final.starts_with(prefix));
      const modem::CmsVerdict v = modem::cms_verdict(*code);
      check(valid_utf8(v.reason) && v.reason.find(std::to_string(*code)) != std::string::npos);
    }
  }
  for (const auto& l : lines) {
    if (const auto mr = modem::parse_cmgs(l)) check(*mr >= 0 && *mr <= 255 && l.starts_with("+CMGS:"));
  }
  const auto stored = modem::parse_stored(lines);
  check(stored.size() <= lines.size() / 2);
  for (const auto& s : stored) {
    check(s.length >= 0);
    if (s.index != -1) check(s.index >= 0);
    pdu_line(s.pdu, s.length);
  }
}

// ModemLink's state between lines.
struct Link {
  bool report_pdu_next = false;
  bool cmt_pdu_next = false;
  int report_length = -1;
  bool pending = true;  // a command (AT+CMGL=4) waits for its answer
  bool pdu_line_next = false;
  std::vector<std::string> lines;

  void line(const std::string& text) {
    if (report_pdu_next) {
      report_pdu_next = false;
      pdu_line(text, report_length);
      return;
    }
    if (cmt_pdu_next) {  // the link skips it; read it all the same
      cmt_pdu_next = false;
      pdu_line(text, report_length);
      return;
    }
    if (pending && pdu_line_next) {
      pdu_line_next = false;
      lines.push_back(text);
      return;
    }
    if (text.starts_with("+CDS:") || text.starts_with("+CMT:")) {
      const auto n = modem::parse_pdu_urc_length(text);
      if (n) check(*n >= 0 && *n <= 200);
      report_length = n.value_or(-1);
      (text.starts_with("+CDS:") ? report_pdu_next : cmt_pdu_next) = true;
      return;
    }
    if (const auto cmti = modem::parse_cmti(text)) {
      check(cmti->index >= 0 && text.starts_with("+CMTI:"));
      return;
    }
    if (text == "RING" || text.starts_with("+CRING") || text.starts_with("+CLIP") || text.starts_with("^") ||
        text.starts_with("+CREG:") || text.starts_with("+CGREG:") || text.starts_with("+CEREG:") ||
        text.starts_with("+CSQ:") || text.starts_with("+CUSD:")) {
      (void)villagebot::text::mask_phones_in(text);
      return;
    }
    if (pending) {
      if (modem::is_final_result(text)) {
        command_result(lines, text);
        lines.clear();
        pdu_line_next = false;
        return;
      }
      lines.push_back(text);
      if (text.starts_with("+CMGR:") || text.starts_with("+CMGL:")) pdu_line_next = true;
      return;
    }
    (void)villagebot::text::mask_phones_in(text);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Link link;
  std::string rx;
  // As read_some hands it over: a few chunks.
  for (std::size_t at = 0; at < input.size(); at += 64) {
    rx.append(input.substr(at, 64));
    if (rx.size() > 64 * 1024) rx.erase(0, rx.size() - 4096);
    for (;;) {
      const auto end = rx.find_first_of("\r\n");
      if (end == std::string::npos) break;
      std::string text = rx.substr(0, end);
      rx.erase(0, end + 1);
      while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.pop_back();
      if (!text.empty()) link.line(text);
    }
    if (rx.starts_with(">")) rx.clear();  // the prompt of AT+CMGS
  }

  // Each parser on every line, whatever the state.
  std::vector<std::string> all;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= input.size(); ++i) {
    if (i == input.size() || input[i] == '\r' || input[i] == '\n') {
      if (i > start) all.emplace_back(input.substr(start, i - start));
      start = i + 1;
    }
  }
  for (const auto& l : all) {
    if (const auto n = modem::parse_pdu_urc_length(l)) check(*n >= 0 && *n <= 200);
    if (const auto mr = modem::parse_cmgs(l)) check(*mr >= 0 && *mr <= 255);
    if (const auto cmti = modem::parse_cmti(l)) check(cmti->index >= 0);
    if (modem::error_number(l, "+CMS ERROR")) check(modem::is_final_result(l));
  }
  const auto stored = modem::parse_stored(all);
  check(stored.size() <= all.size() / 2);
  return 0;
}
