#pragma once
// The text side of the AT dialogue (3GPP TS 27.005 / 27.007): which lines end a command, the
// responses and unsolicited result codes the modem adapter reads, and what a +CMS ERROR means
// for a message (try again later, or give up with a reason a village official can act on).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace villagebot::adapters::modem {

// OK, ERROR, +CMS ERROR: n, +CME ERROR: n (and the dial results, which end a command too).
bool is_final_result(std::string_view line);
// n of "+CMS ERROR: n" / "+CME ERROR: n"; nullopt for other lines or a verbose error text.
std::optional<int> error_number(std::string_view line, std::string_view prefix);

// +CMTI: "SM",3
struct StoredAt {
  std::string memory;
  int index = -1;
};
std::optional<StoredAt> parse_cmti(std::string_view line);
// +CMGS: 17 → 17 (the TP-MR the modem gave the message).
std::optional<int> parse_cmgs(std::string_view line);
// +CDS: 25 / +CMT: ,25 → 25 (the TPDU length of the PDU on the next line).
std::optional<int> parse_pdu_urc_length(std::string_view line);

// The messages of +CMGR / +CMGL in PDU mode: "+CMGR: <stat>,[<alpha>],<length>" or
// "+CMGL: <index>,<stat>,[<alpha>],<length>", each followed by its PDU line.
struct StoredPdu {
  int index = -1;  // -1 for +CMGR (the caller knows the index)
  int stat = -1;   // 0 REC UNREAD, 1 REC READ, 2 STO UNSENT, 3 STO SENT
  int length = -1;
  std::string pdu;
};
std::vector<StoredPdu> parse_stored(const std::vector<std::string>& lines);

// TS 27.005 §3.2.5 <err> (0-127 RP causes of TS 24.011 E.2, 128-255 TP-FCS of TS 23.040
// §9.2.3.22, 300-  the ME/TA's own) for an AT+CMGS that failed.
struct CmsVerdict {
  bool retry = true;
  std::string reason;  // Chinese / English, with the code
};
CmsVerdict cms_verdict(int code);

}  // namespace villagebot::adapters::modem
