#pragma once
// The GSM/4G USB modem adapter (issue 11): SMS through a SIM card on a serial port, in PDU mode.
//
// Out: send() (worker threads) splits the text with sms::split (the signature counts), encodes
// each part as an SMS-SUBMIT and waits for AT+CMGS's "+CMGS: <mr>". Every part's id is kept with
// its TP-MR and recipient, so that the +CDS status report matches it. +CMS ERROR codes of the
// network, the service centre or the SIM that may pass are retried; a wrong number or message
// fails with the reason. With the modem unplugged, sends are retried later.
//
// In: +CMTI → AT+CMGR → SMS-DELIVER decoded → submitted; the SIM slot is deleted (AT+CMGD) only
// once the pipeline has the message durably. Whatever is still on the SIM at start and after a
// reconnect (AT+CMGL=4) is submitted again: its message_id (sender, service centre time, data)
// is stable, so the pipeline answers it once. The parts of a long message stay on the SIM until
// all are there; then the whole text is submitted and every part deleted.
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "modem_link.hpp"
#include "pdu.hpp"
#include "villagebot/adapter.hpp"
#include "villagebot/sms.hpp"

namespace villagebot::adapters::modem {

struct ModemSettings {
  LinkSettings link;
  std::string smsc;       // "" = the SIM's own
  std::string signature;  // 【幸福村】, in front of every message, counted in its length
  bool status_reports = true;
  std::chrono::milliseconds send_timeout{60000};       // AT+CMGS: the network may take long
  std::chrono::milliseconds offline_wait{30000};       // a send waits this long for an unplugged modem
  std::chrono::milliseconds concat_wait{3600 * 1000};  // then the parts that came are submitted
  std::chrono::milliseconds resweep{30000};            // a failed read: the SIM is listed again after this
};

class Modem final : public Adapter {
 public:
  Modem();
  ~Modem() override;
  void configure(ConfigSection& config) override;
  void start(AdapterContext& context) override;
  void stop() override;
  [[nodiscard]] bool is_sms() const override { return true; }
  SendResult send(const OutboundMessage& message) override;
  [[nodiscard]] nlohmann::json health() const override;

  struct Core;

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace villagebot::adapters::modem
