#pragma once
// The SMPP adapter (issue 11): an SMPP 3.4 transceiver session to the carrier's SMSC.
//
// Out: send() splits the text with sms::split (the signature 【村名】 in front), GSM-7 as data_coding
// 0 (one septet per octet, unpacked) or UCS-2 as data_coding 8, a long text concatenated by a UDH
// (esm_class 0x40, 05 00 03 ref total seq), by the sar_* TLVs, or carried whole in one
// message_payload; registered_delivery 1; every part's message_id goes back (ok_parts) so that a
// receipt per part marks the message delivered. A connection that ends before a part's
// submit_sm_resp is retried by the delivery engine: the SMSC may then have that part twice —
// SMPP is at-least-once, as is every gateway without an idempotency key.
//
// In: deliver_sm with the receipt bit → report_delivery(receipted id, stat == DELIVRD); any other
// deliver_sm is a text from a phone: decoded by data_coding, concatenated parts (UDH or SAR) kept
// in adapter_smpp_parts until the last one arrives (each part is acknowledged once stored), then
// submitted; its deliver_sm_resp waits for the pipeline's verdict (ESME_RX_T_APPN when it could
// not be stored: the SMSC delivers it again).
//
// The id of a text from a phone (de-duplication): SMPP 3.4 gives an MO message no id of its own and
// the sequence number changes when the SMSC retries, so the adapter keeps a fingerprint of what
// is stable (sender, recipient, concatenation reference, text) in adapter_smpp_inbound with the id
// it gave it. The same fingerprint again reuses that id — and is answered as a duplicate — when
// the first was not acknowledged yet, or was acknowledged on a connection that has since ended (our
// answer may have been lost), within dedupe_window_s; the same words acknowledged on the live
// connection are a new message (the SMSC had our answer, so this is the person writing again).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "pdu.hpp"
#include "session.hpp"
#include "villagebot/adapter.hpp"
#include "villagebot/sms.hpp"

namespace villagebot::adapters {

struct SmppSettings {
  smpp::SessionSettings session;
  std::string signature;  // 【幸福村】: in front of every message (the carriers require it)
  enum class Concatenation { udh, sar, payload } concatenation = Concatenation::udh;
  std::string service_type;
  std::string source_addr;
  std::uint8_t source_ton = 0;
  std::uint8_t source_npi = 0;
  bool national_numbers = false;  // +86 numbers as 138… (national) instead of 86138… (international)
  std::uint8_t dest_ton = 1;
  std::uint8_t dest_npi = 1;
  bool registered_delivery = true;
  std::chrono::seconds dedupe_window{600};
  std::chrono::seconds parts_expire{86400};  // an incomplete concatenated text is dropped after this
};

// The destination as the SMSC expects it: digits and their type of number; nothing for an address
// that is not a phone number.
struct SmppAddress {
  std::string digits;
  std::uint8_t ton = 0;
  std::uint8_t npi = 1;
};
std::optional<SmppAddress> smpp_destination(const std::string& address, const SmppSettings& settings);
// The submit_sm PDUs of one message (one per part; one for concatenation = payload).
std::vector<smpp::Pdu> smpp_submits(const std::string& text, const SmppAddress& to, const SmppSettings& settings,
                                    sms::ConcatReference& references);

// A deliver_sm that is not a receipt: its user data without the header (message_payload when
// present) and, for a part, the concatenation. Parts are joined as octets before decoding, so a
// character whose octets a handset cut between two parts comes out whole.
struct MoPart {
  std::string octets;
  std::optional<sms::ConcatInfo> concat;
};
std::optional<MoPart> smpp_decode_mo(const smpp::Pdu& deliver_sm, std::string& error);
// User data as UTF-8 by data_coding: 0 GSM-7 (one septet per octet), 1 IA5/ASCII, 3 Latin-1,
// 8 UCS-2; nothing (error set) for binary or unknown codings and odd-length UCS-2.
std::optional<std::string> smpp_text(std::string_view octets, std::uint8_t data_coding, std::string& error);
// The sender as the directory knows phones (+8613800000001), else as given.
std::string smpp_sender(const smpp::Pdu& deliver_sm);

class Smpp final : public Adapter {
 public:
  Smpp() = default;
  ~Smpp() override;
  void configure(ConfigSection& config) override;
  void start(AdapterContext& context) override;
  void stop() override;
  [[nodiscard]] std::string identity_kind() const override { return "phone"; }
  [[nodiscard]] bool is_sms() const override { return true; }
  SendResult send(const OutboundMessage& message) override;
  [[nodiscard]] nlohmann::json health() const override;

 private:
  void on_deliver(smpp::Pdu pdu, std::uint64_t connection, smpp::Respond respond);
  void handle_deliver(const smpp::Pdu& pdu, const std::string& connection, const smpp::Respond& respond);
  void handle_receipt(const smpp::Pdu& pdu, const smpp::Respond& respond);
  void submit_text(InboundMessage message, const std::string& fingerprint, std::optional<sms::ConcatInfo> concat,
                   const std::string& connection, const smpp::Respond& respond);
  void finish_text(const InboundMessage& message, const SubmitResult& result, const std::string& fingerprint,
                   const std::optional<sms::ConcatInfo>& concat, const std::string& connection,
                   const smpp::Respond& respond);
  void worker_loop();
  void cleanup(std::int64_t now_ms);

  SmppSettings settings_;
  AdapterContext* context_ = nullptr;
  std::unique_ptr<smpp::Session> session_;
  sms::ConcatReference references_;
  std::string nonce_;  // this process's connections differ from the last run's

  // Inbound work (storage) runs on worker_, never on the network thread. Shared with the pipeline's
  // callbacks, which may outlive the adapter: after stop() they post into a closed queue.
  struct Jobs {
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<std::function<void()>> queue;
    bool stopped = false;
    void post(std::function<void()> job);
  };
  std::shared_ptr<Jobs> jobs_ = std::make_shared<Jobs>();
  std::thread worker_;
  std::int64_t last_cleanup_ms_ = 0;

  std::atomic<std::int64_t> mo_messages_{0}, mo_parts_{0}, receipts_{0}, rejected_in_{0};
};

}  // namespace villagebot::adapters
