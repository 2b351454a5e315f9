#pragma once
// Notices (通知公告): created from chat, the API or another plugin's event;
// sent at once or at their time through the delivery engine (a broadcast with
// an idempotency key, so a crash or a repeated job never sends one twice);
// reminded once, by SMS, to those who have not acknowledged; cancelled with
// what is still queued. Per-recipient delivery and acknowledgement status is
// the core's (Messenger::recipients); this keeps what the notice is.
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "villagebot/directory.hpp"
#include "villagebot/messenger.hpp"
#include "villagebot/scheduler.hpp"
#include "villagebot/storage.hpp"

#include "plugin_support.hpp"

namespace villagebot::announcements {

// A refusal with a code for the API (invalid → 422, out_of_scope → 403,
// not_found → 404, conflict → 409) and a message "中文 / English".
class NoticeError : public plugin_support::Refusal {
 public:
  using Refusal::Refusal;
};

// [[plugins.announcements.templates]]: text with {variables}; {name} and
// {household} are filled per recipient, {date} with the sending day, others
// from the request.
struct Template {
  std::string code;
  std::string category = "通知";
  std::string title;
  std::string body;
  std::string body_en;
};

struct NoticeDraft {
  std::string title;  // "": the start of the body
  std::string body;
  std::string body_en;
  std::string category = "通知";
  Audience audience;
  ChannelPolicy policy = ChannelPolicy::group_first;
  bool urgent = false;  // overtakes other notices and is sent during quiet hours
  bool ask_ack = true;
  std::int64_t scheduled_at_ms = 0;    // 0 or past: at once
  std::int64_t expires_at_ms = 0;      // 0: the delivery engine's default
  std::int64_t reminder_after_s = -1;  // -1: the configured default; 0: none
  std::string source = "api";
  std::string created_by;
  std::int64_t creator_person_id = 0;
  std::string idempotency_key;  // the same key again returns the first notice
};

struct Notice {
  std::int64_t id = 0;
  std::string title, body, body_en, category;
  Audience audience;
  ChannelPolicy policy = ChannelPolicy::group_first;
  bool urgent = false;
  bool ask_ack = true;
  std::int64_t scheduled_at_ms = 0, expires_at_ms = 0, reminder_after_s = 0;
  std::string status;  // scheduled, sending, sent, cancelled
  std::int64_t broadcast_id = 0, reminder_broadcast_id = 0;
  std::int64_t send_job_id = 0, reminder_job_id = 0;
  std::string source, created_by;
  std::int64_t creator_person_id = 0;
  std::string idempotency_key;
  std::int64_t created_at_ms = 0, sent_at_ms = 0, reminded_at_ms = 0, reminded_persons = 0, cancelled_at_ms = 0;
  std::string cancelled_by;
};

struct NoticesOptions {
  std::int64_t default_reminder_s = 24 * 3600;  // 0: reminders off unless a notice asks
  std::int64_t utc_offset_s = 8 * 3600;
};

class Notices {
 public:
  Notices(Storage& storage, Messenger& messenger, Scheduler& scheduler, Directory& directory, NoticesOptions options);
  static const std::vector<Migration>& migrations();

  // Validates (sizes, UTF-8, a non-empty audience) and fills the defaults; throws NoticeError.
  void validate(NoticeDraft& draft) const;
  // What sending it would take (persons, group posts, SMS and segments), without sending.
  DeliveryPlan preview(NoticeDraft draft);
  // Stores the notice and sends it now, or schedules it. A key already used returns
  // that notice (created = false).
  Notice create(NoticeDraft draft, bool* created = nullptr);
  // The scheduler's jobs: send a scheduled notice; remind those who have not acknowledged.
  void send_scheduled(std::int64_t id);
  void remind(std::int64_t id);
  // Cancels a scheduled notice, or what is still queued of a sent one (and its reminder).
  Notice cancel(std::int64_t id, const std::string& by);
  // At start: notices a crash left between stored and sent are sent (once: the key).
  int recover();

  [[nodiscard]] std::optional<Notice> get(std::int64_t id);
  // Newest first; category and status "" = any.
  std::vector<Notice> list(std::int64_t offset, std::int64_t limit, const std::string& category,
                           const std::string& status, std::int64_t* total = nullptr);

  // The text recipients get (header, body, the 收到 request).
  [[nodiscard]] static std::string message_text(const Notice& n, bool english);
  // A template's text with the request's variables; {date} is filled in when it is sent,
  // {name} and {household} per recipient by the delivery engine. Throws NoticeError naming a variable without a value.
  [[nodiscard]] std::string render(const std::string& text, const std::map<std::string, std::string>& variables) const;

  // The last `n` sent notices addressed to a person, newest first, with their status.
  struct Addressed {
    Notice notice;
    RecipientStatus status;
  };
  std::vector<Addressed> latest_for(std::int64_t person_id, int n);

  // 未读: the households linked to a central household (一户十联, not its own) that have not
  // acknowledged a notice (id 0: the latest sent notice that asks for it and reached them).
  struct UnreadHousehold {
    Household household;
    std::vector<Person> members;  // those the notice was for
  };
  struct Unread {
    Notice notice;
    std::int64_t linked_households = 0;  // linked households the notice reached
    std::vector<UnreadHousehold> households;
  };
  std::optional<Unread> unread_for(std::int64_t central_household_id, std::int64_t notice_id = 0);

  // A cadre's scope: the units they answer for (四包一联); empty = the whole village.
  [[nodiscard]] std::vector<OrgUnit> scope_of(std::int64_t person_id);
  // Throws NoticeError out_of_scope when the audience reaches anyone outside the person's scope.
  void check_scope(const Audience& audience, std::int64_t person_id);

  [[nodiscard]] std::int64_t now_ms() const;
  [[nodiscard]] std::string local_time(std::int64_t ms) const;  // 2026-11-29 08:00 (village time)
  [[nodiscard]] std::int64_t utc_offset_s() const { return options_.utc_offset_s; }
  [[nodiscard]] Directory& directory() { return directory_; }
  [[nodiscard]] Messenger& messenger() { return messenger_; }

 private:
  void send_now(Notice& n);
  Broadcast broadcast_of(const Notice& n) const;
  [[nodiscard]] std::string with_date(std::string text) const;  // {date}: the day it is sent
  void schedule_reminder(Notice& n);

  Storage& storage_;
  Messenger& messenger_;
  Scheduler& scheduler_;
  void follow_up_by_central_households(const Notice& n, const std::vector<std::int64_t>& unconfirmed);
  Directory& directory_;
  NoticesOptions options_;
};

const char* policy_name(ChannelPolicy p);
std::optional<ChannelPolicy> policy_from(const std::string& name);

}  // namespace villagebot::announcements
