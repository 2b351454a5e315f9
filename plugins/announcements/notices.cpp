#include "notices.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "villagebot/text.hpp"

namespace villagebot::announcements {

const std::vector<Migration>& announcements_migrations();  // generated from schema/announcements_NNN.sql

namespace {

using nlohmann::json;

constexpr std::size_t kMaxTitle = 200;  // bytes
constexpr std::size_t kMaxBody = 2000;  // bytes: about 660 Chinese characters, 10 SMS segments
constexpr std::size_t kMaxCategory = 60;
constexpr std::size_t kMaxKey = 200;
constexpr int kLatestScan = 200;  // notices looked at for 最新通知 / 未读

constexpr const char* kColumns =
    "id, title, body, body_en, category, audience, policy, urgent, ask_ack, scheduled_at_ms, expires_at_ms, "
    "reminder_after_s, status, COALESCE(broadcast_id, 0), COALESCE(reminder_broadcast_id, 0), "
    "COALESCE(send_job_id, 0), COALESCE(reminder_job_id, 0), source, created_by, COALESCE(creator_person_id, 0), "
    "COALESCE(idempotency_key, ''), created_at_ms, COALESCE(sent_at_ms, 0), COALESCE(reminded_at_ms, 0), "
    "COALESCE(reminded_persons, 0), COALESCE(cancelled_at_ms, 0), COALESCE(cancelled_by, '')";

Notice from_row(const Row& r) {
  Notice n;
  n.id = r.integer(0);
  n.title = r.text(1);
  n.body = r.text(2);
  n.body_en = r.text(3);
  n.category = r.text(4);
  try {
    n.audience = audience_from_json(json::parse(r.text(5)));
  } catch (const std::exception&) {
    n.audience = Audience{};
  }
  n.policy = policy_from(r.text(6)).value_or(ChannelPolicy::group_first);
  n.urgent = r.integer(7) != 0;
  n.ask_ack = r.integer(8) != 0;
  n.scheduled_at_ms = r.integer(9);
  n.expires_at_ms = r.integer(10);
  n.reminder_after_s = r.integer(11);
  n.status = r.text(12);
  n.broadcast_id = r.integer(13);
  n.reminder_broadcast_id = r.integer(14);
  n.send_job_id = r.integer(15);
  n.reminder_job_id = r.integer(16);
  n.source = r.text(17);
  n.created_by = r.text(18);
  n.creator_person_id = r.integer(19);
  n.idempotency_key = r.text(20);
  n.created_at_ms = r.integer(21);
  n.sent_at_ms = r.integer(22);
  n.reminded_at_ms = r.integer(23);
  n.reminded_persons = r.integer(24);
  n.cancelled_at_ms = r.integer(25);
  n.cancelled_by = r.text(26);
  return n;
}

// The first `n` characters (not bytes) of a text, with … when cut.
std::string excerpt(const std::string& text, std::size_t n) {
  const std::u32string u = text::to_u32(text);
  if (u.size() <= n) return text;
  return text::to_utf8(u.substr(0, n)) + "…";
}

std::string category_en(const std::string& category) {
  if (category == "通知") return "Notice";
  if (category == "决议公开") return "Decision";
  if (category == "实施结果公开") return "Results";
  if (category == "两公开") return "Disclosure";
  if (category == "红榜") return "Red list";
  if (category == "投票结果") return "Poll results";
  return category;
}

void check_text(const std::string& field, const std::string& value, std::size_t max, bool required) {
  if (required && text::trim(value).empty())
    throw NoticeError("invalid", field + " 不能为空 / " + field + " is required");
  if (!text::valid_utf8(value)) throw NoticeError("invalid", field + " 不是有效的 UTF-8 / " + field + " is not UTF-8");
  if (value.size() > max)
    throw NoticeError("invalid", field + " 超过 " + std::to_string(max) + " 字节 / " + field + " is longer than " +
                                     std::to_string(max) + " bytes");
}

}  // namespace

const char* policy_name(ChannelPolicy p) {
  switch (p) {
    case ChannelPolicy::group_first:
      return "group_first";
    case ChannelPolicy::personal_all:
      return "personal_all";
    case ChannelPolicy::sms_all:
      return "sms_all";
    case ChannelPolicy::every_channel:
      return "every_channel";
  }
  return "group_first";
}

std::optional<ChannelPolicy> policy_from(const std::string& name) {
  if (name == "group_first") return ChannelPolicy::group_first;
  if (name == "personal_all") return ChannelPolicy::personal_all;
  if (name == "sms_all") return ChannelPolicy::sms_all;
  if (name == "every_channel") return ChannelPolicy::every_channel;
  return std::nullopt;
}

Notices::Notices(Storage& storage, Messenger& messenger, Scheduler& scheduler, Directory& directory,
                 NoticesOptions options)
    : storage_(storage), messenger_(messenger), scheduler_(scheduler), directory_(directory), options_(options) {}

const std::vector<Migration>& Notices::migrations() {
  return announcements_migrations();
}

std::int64_t Notices::now_ms() const {
  return plugin_support::now_ms(scheduler_);
}

std::string Notices::local_time(std::int64_t ms) const {
  return plugin_support::local_time(ms, options_.utc_offset_s);
}

void Notices::validate(NoticeDraft& d) const {
  d.body = text::trim(d.body);
  d.title = text::trim(d.title);
  check_text("body", d.body, kMaxBody, true);
  check_text("title", d.title, kMaxTitle, false);
  check_text("body_en", d.body_en, kMaxBody, false);
  check_text("category", d.category, kMaxCategory, true);
  check_text("idempotency_key", d.idempotency_key, kMaxKey, false);
  if (d.title.empty()) {
    // The first line, at most 20 characters.
    const std::string first = d.body.substr(0, d.body.find('\n'));
    d.title = excerpt(first, 20);
  }
  if (d.audience.empty())
    throw NoticeError("invalid",
                      "通知对象为空：请指定组、角色、户或人 / the audience is empty: name units, roles, "
                      "households or persons");
  if (d.reminder_after_s < 0) d.reminder_after_s = options_.default_reminder_s;
  if (!d.ask_ack) d.reminder_after_s = 0;  // nothing to remind of
  if (d.reminder_after_s > 30LL * 24 * 3600)
    throw NoticeError("invalid", "提醒时间不能超过 30 天 / the reminder must come within 30 days");
  const auto now = now_ms();
  if (d.expires_at_ms > 0 && d.expires_at_ms <= std::max(now, d.scheduled_at_ms))
    throw NoticeError("invalid", "截止时间必须晚于发送时间 / expires_at must be after the time it is sent");
  if (d.scheduled_at_ms > now + 366LL * 24 * 3600 * 1000)
    throw NoticeError("invalid", "定时发送不能超过一年 / scheduled_at must be within a year");
}

std::string Notices::render(const std::string& text, const std::map<std::string, std::string>& variables) const {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto open = text.find('{', i);
    if (open == std::string::npos) break;
    const auto close = text.find('}', open);
    if (close == std::string::npos) break;
    const std::string name = text.substr(open + 1, close - open - 1);
    out += text.substr(i, open - i);
    i = close + 1;
    if (name == "name" || name == "household") {  // per recipient, by the delivery engine
      out += "{" + name + "}";
    } else if (auto it = variables.find(name); it != variables.end()) {
      out += it->second;
    } else if (name == "date") {  // the day it is sent: filled in by broadcast_of
      out += "{date}";
    } else {
      throw NoticeError("invalid",
                        "模板变量 {" + name + "} 没有值 / the template variable {" + name + "} has no value");
    }
  }
  return out + text.substr(i);
}

std::string Notices::message_text(const Notice& n, bool english) {
  const bool title_in_body =
      n.body.starts_with(n.title.ends_with("…") ? n.title.substr(0, n.title.size() - 3) : n.title);
  if (english && !n.body_en.empty())
    return "[" + category_en(n.category) + "] " + (title_in_body ? "" : n.title + "\n") + n.body_en +
           (n.ask_ack ? "\nReply OK to confirm you received it." : "");
  return "【" + n.category + "】" + (title_in_body ? "" : n.title + "\n") + n.body +
         (n.ask_ack ? "\n请回复「收到」确认。" : "");
}

std::string Notices::with_date(std::string text) const {
  const std::string t = local_time(now_ms());  // 2026-11-29 08:00
  const std::string zh =
      std::to_string(std::stoi(t.substr(5, 2))) + "月" + std::to_string(std::stoi(t.substr(8, 2))) + "日";
  for (auto at = text.find("{date}"); at != std::string::npos; at = text.find("{date}", at + zh.size()))
    text.replace(at, 6, zh);
  return text;
}

Broadcast Notices::broadcast_of(const Notice& n) const {
  Broadcast b;
  b.kind = "notice";
  b.title = with_date(n.title);
  b.text = with_date(message_text(n, false));
  if (!n.body_en.empty()) b.text_en = with_date(message_text(n, true));
  b.personalise = b.text.find("{name}") != std::string::npos || b.text.find("{household}") != std::string::npos ||
                  b.text_en.find("{name}") != std::string::npos || b.text_en.find("{household}") != std::string::npos;
  b.audience = n.audience;
  b.policy = n.policy;
  b.priority = n.urgent ? Priority::reply : Priority::notice;
  b.ask_ack = n.ask_ack;
  b.idempotency_key = "announcements:" + std::to_string(n.id);
  b.created_by = n.created_by.empty() ? n.source : n.created_by;
  if (n.expires_at_ms > 0)
    b.valid_for = std::chrono::seconds(std::max<std::int64_t>(1, (n.expires_at_ms - now_ms()) / 1000));
  return b;
}

DeliveryPlan Notices::preview(NoticeDraft d) {
  validate(d);
  Notice n;
  n.title = d.title;
  n.body = d.body;
  n.body_en = d.body_en;
  n.category = d.category;
  n.audience = d.audience;
  n.policy = d.policy;
  n.urgent = d.urgent;
  n.ask_ack = d.ask_ack;
  return messenger_.plan(broadcast_of(n));
}

Notice Notices::create(NoticeDraft d, bool* created) {
  validate(d);
  if (created != nullptr) *created = false;
  auto by_key = [&](Session& s) -> std::optional<Notice> {
    if (d.idempotency_key.empty()) return std::nullopt;
    auto rows =
        s.query(std::string("SELECT ") + kColumns + " FROM ann_notices WHERE idempotency_key = ?", {d.idempotency_key});
    if (rows.empty()) return std::nullopt;
    return from_row(rows[0]);
  };
  if (auto earlier = storage_.read(by_key)) return *earlier;
  const auto now = now_ms();
  const bool later = d.scheduled_at_ms > now + 1000;
  std::optional<Notice> earlier;
  const std::int64_t id = storage_.write([&](Session& s) -> std::int64_t {
    if ((earlier = by_key(s))) return 0;
    s.execute(
        "INSERT INTO ann_notices (title, body, body_en, category, audience, policy, urgent, ask_ack, "
        "scheduled_at_ms, expires_at_ms, reminder_after_s, status, source, created_by, creator_person_id, "
        "idempotency_key, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {d.title, d.body, d.body_en, d.category, audience_to_json(d.audience).dump(),
         std::string(policy_name(d.policy)), std::int64_t{d.urgent ? 1 : 0}, std::int64_t{d.ask_ack ? 1 : 0},
         later ? d.scheduled_at_ms : std::int64_t{0}, d.expires_at_ms, d.reminder_after_s,
         std::string(later ? "scheduled" : "sending"), d.source, d.created_by,
         d.creator_person_id > 0 ? Value{d.creator_person_id} : Value{nullptr},
         d.idempotency_key.empty() ? Value{nullptr} : Value{d.idempotency_key}, now});
    return s.last_insert_id();
  });
  if (earlier) return *earlier;
  if (created != nullptr) *created = true;
  Notice n = *get(id);
  if (later) {
    const auto job = scheduler_.schedule_at("announcements.send",
                                            Scheduler::Clock::time_point(std::chrono::milliseconds(d.scheduled_at_ms)),
                                            {{"notice_id", id}}, Scheduler::Missed::fire_late);
    storage_.write_sync([&](Session& s) {
      s.execute("UPDATE ann_notices SET send_job_id = ? WHERE id = ?", {job, id});
    });
    n.send_job_id = job;
    return n;
  }
  send_now(n);
  return n;
}

void Notices::send_now(Notice& n) {
  DeliveryPlan plan;
  const std::int64_t bid = messenger_.broadcast(broadcast_of(n), &plan);  // once per notice: its key
  const auto now = now_ms();
  std::int64_t reminder_job = n.reminder_job_id;
  if (n.ask_ack && n.reminder_after_s > 0 && reminder_job == 0)
    reminder_job =
        scheduler_.schedule_at("announcements.remind",
                               Scheduler::Clock::time_point(std::chrono::milliseconds(now + n.reminder_after_s * 1000)),
                               {{"notice_id", n.id}}, Scheduler::Missed::fire_late);
  storage_.write_sync([&](Session& s) {
    s.execute(
        "UPDATE ann_notices SET status = 'sent', broadcast_id = ?, sent_at_ms = ?, reminder_job_id = ? "
        "WHERE id = ? AND status IN ('scheduled', 'sending')",
        {bid, now, reminder_job > 0 ? Value{reminder_job} : Value{nullptr}, n.id});
  });
  n.status = "sent";
  n.broadcast_id = bid;
  n.sent_at_ms = now;
  n.reminder_job_id = reminder_job;
}

void Notices::send_scheduled(std::int64_t id) {
  auto n = get(id);
  if (!n) return;
  // Only a notice still scheduled (or one a crash left sending): never a cancelled one.
  const bool due = storage_.write([&](Session& s) {
    return s.execute("UPDATE ann_notices SET status = 'sending' WHERE id = ? AND status IN ('scheduled', 'sending')",
                     {id}) > 0;
  });
  if (!due) return;
  send_now(*n);
}

void Notices::remind(std::int64_t id) {
  auto n = get(id);
  if (!n || n->status != "sent" || n->reminded_at_ms > 0 || !n->ask_ack || n->broadcast_id == 0) return;
  if (n->expires_at_ms > 0 && now_ms() >= n->expires_at_ms) return;  // no longer worth a reminder
  RecipientQuery q;
  q.acknowledged = false;
  std::vector<std::int64_t> persons;
  for (const auto& r : messenger_.recipients(n->broadcast_id, q).items) persons.push_back(r.person_id);
  std::int64_t rid = 0;
  DeliveryPlan plan;
  if (!persons.empty()) {
    Broadcast b;
    b.kind = "reminder";
    b.title = "提醒：" + n->title;
    b.text = "【提醒】您还没有确认" + n->category + "「" + n->title + "」：" + excerpt(n->body, 60) +
             "\n请回复「收到」确认。";
    if (!n->body_en.empty())
      b.text_en = "[Reminder] Please confirm the notice \"" + n->title + "\": " + excerpt(n->body_en, 100) +
                  "\nReply OK to confirm.";
    b.personalise = b.text.find('{') != std::string::npos || b.text_en.find('{') != std::string::npos;
    b.text = with_date(b.text);
    b.text_en = with_date(b.text_en);
    if (n->expires_at_ms > 0)
      b.valid_for = std::chrono::seconds(std::max<std::int64_t>(1, (n->expires_at_ms - now_ms()) / 1000));
    b.audience.persons = std::move(persons);
    b.policy = ChannelPolicy::sms_all;
    b.priority = Priority::notice;
    b.ask_ack = true;
    b.follow_up_of = n->broadcast_id;
    b.idempotency_key = "announcements.remind:" + std::to_string(id);
    b.created_by = "announcements";
    rid = messenger_.broadcast(b, &plan);
    follow_up_by_central_households(*n, b.audience.persons);
  }
  const auto now = now_ms();
  const bool still_sent = storage_.write([&](Session& s) {
    s.execute(
        "UPDATE ann_notices SET reminded_at_ms = ?, reminder_broadcast_id = ?, reminded_persons = ? "
        "WHERE id = ? AND reminded_at_ms IS NULL",
        {now, rid > 0 ? Value{rid} : Value{nullptr}, plan.persons, id});
    return !s.query("SELECT 1 FROM ann_notices WHERE id = ? AND status = 'sent'", {id}).empty();
  });
  if (!still_sent && rid > 0) messenger_.cancel_broadcast(rid);  // cancelled while the reminder was planned
}

// 一户十联: the central household heads of the households that have not confirmed are asked, in
// their group chats with an @-mention (WeCom, DingTalk robots) or else personally, to follow up.
void Notices::follow_up_by_central_households(const Notice& n, const std::vector<std::int64_t>& unconfirmed) {
  std::map<std::int64_t, int> households;  // central household → households of it not confirmed
  std::set<std::int64_t> seen;
  for (const auto& p : directory_.persons(unconfirmed)) {
    if (p.household_id == 0 || !seen.insert(p.household_id).second) continue;
    const auto h = directory_.household(p.household_id);
    if (h && h->central_household_id > 0) ++households[h->central_household_id];
  }
  std::vector<std::int64_t> heads;
  for (const auto& [central, count] : households)
    for (const auto& member : directory_.household_members(central))
      if (member.has_role(role::kCentralHouseholdHead)) heads.push_back(member.id);
  if (heads.empty()) return;
  Broadcast b;
  b.kind = "reminder";
  b.title = "未读提醒：" + n.title;
  b.text = "【未读提醒】" + n.category + "「" + n.title +
           "」还有农户没有确认。请中心户长提醒您联系的农户查看并回复「收到」；" + "发送「未读」查看名单。";
  b.text_en = "[Unread] Some households have not confirmed \"" + n.title +
              "\". Central household heads: please remind yours; send \"unread\" for the list.";
  b.audience.persons = std::move(heads);
  b.policy = ChannelPolicy::group_first;
  b.mention_in_groups = true;
  b.priority = Priority::notice;
  b.ask_ack = false;
  b.idempotency_key = "announcements.follow_up:" + std::to_string(n.id);
  b.created_by = "announcements";
  messenger_.broadcast(b);
}

Notice Notices::cancel(std::int64_t id, const std::string& by) {
  if (!get(id))
    throw NoticeError("not_found", "没有第 " + std::to_string(id) + " 号通知 / no notice " + std::to_string(id));
  // Cancelled first: a send or a reminder planned meanwhile sees it and stops (send_now, remind).
  const auto now = now_ms();
  const bool changed = storage_.write([&](Session& s) {
    return s.execute(
               "UPDATE ann_notices SET status = 'cancelled', cancelled_at_ms = ?, cancelled_by = ? "
               "WHERE id = ? AND status != 'cancelled'",
               {now, by, id}) > 0;
  });
  if (!changed)
    throw NoticeError("conflict", "第 " + std::to_string(id) + " 号通知已撤回 / notice " + std::to_string(id) +
                                      " is cancelled already");
  const Notice n = *get(id);
  if (n.send_job_id > 0) scheduler_.cancel(n.send_job_id);
  if (n.reminder_job_id > 0) scheduler_.cancel(n.reminder_job_id);
  if (n.broadcast_id > 0) messenger_.cancel_broadcast(n.broadcast_id);
  if (n.reminder_broadcast_id > 0) messenger_.cancel_broadcast(n.reminder_broadcast_id);
  return n;
}

int Notices::recover() {
  int n = 0;
  const auto rows = storage_.read([](Session& s) {
    return s.query(std::string("SELECT ") + kColumns +
                   " FROM ann_notices WHERE status = 'sending' OR (status = 'scheduled' AND send_job_id IS NULL) "
                   "ORDER BY id");
  });
  for (const Row& r : rows) {
    Notice notice = from_row(r);
    if (notice.status == "sending" || notice.scheduled_at_ms <= now_ms()) {
      send_now(notice);
    } else {
      const auto job = scheduler_.schedule_at(
          "announcements.send", Scheduler::Clock::time_point(std::chrono::milliseconds(notice.scheduled_at_ms)),
          {{"notice_id", notice.id}}, Scheduler::Missed::fire_late);
      storage_.write_sync([&](Session& s) {
        s.execute("UPDATE ann_notices SET send_job_id = ? WHERE id = ?", {job, notice.id});
      });
    }
    ++n;
  }
  return n;
}

std::optional<Notice> Notices::get(std::int64_t id) {
  auto rows = storage_.read(
      [&](Session& s) { return s.query(std::string("SELECT ") + kColumns + " FROM ann_notices WHERE id = ?", {id}); });
  if (rows.empty()) return std::nullopt;
  return from_row(rows[0]);
}

std::vector<Notice> Notices::list(std::int64_t offset, std::int64_t limit, const std::string& category,
                                  const std::string& status, std::int64_t* total) {
  std::string where = " WHERE 1 = 1";
  std::vector<Value> params;
  if (!category.empty()) {
    where += " AND category = ?";
    params.emplace_back(category);
  }
  if (!status.empty()) {
    where += " AND status = ?";
    params.emplace_back(status);
  }
  return storage_.read([&](Session& s) {
    if (total != nullptr) *total = s.query("SELECT COUNT(*) FROM ann_notices" + where, params).at(0).integer(0);
    params.emplace_back(limit);
    params.emplace_back(offset);
    std::vector<Notice> out;
    for (const Row& r :
         s.query(std::string("SELECT ") + kColumns + " FROM ann_notices" + where + " ORDER BY id DESC LIMIT ? OFFSET ?",
                 params))
      out.push_back(from_row(r));
    return out;
  });
}

std::vector<Notices::Addressed> Notices::latest_for(std::int64_t person_id, int n) {
  std::vector<Addressed> out;
  RecipientQuery q;
  q.persons = {person_id};
  q.limit = 1;
  for (const auto& notice : list(0, kLatestScan, "", "sent")) {
    if (static_cast<int>(out.size()) >= n) break;
    auto page = messenger_.recipients(notice.broadcast_id, q);
    if (!page.items.empty()) out.push_back({notice, page.items.front()});
  }
  return out;
}

std::optional<Notices::Unread> Notices::unread_for(std::int64_t central_household_id, std::int64_t notice_id) {
  Audience linked;
  linked.central_households = {central_household_id};
  linked.exclude_households = {central_household_id};
  const auto persons = directory_.resolve(linked);
  RecipientQuery q;
  q.persons = persons;
  std::optional<Notice> notice;
  RecipientPage page;
  if (notice_id > 0) {
    notice = get(notice_id);
    if (!notice || notice->broadcast_id == 0) return std::nullopt;
    if (!persons.empty()) page = messenger_.recipients(notice->broadcast_id, q);
  } else {
    if (persons.empty()) return std::nullopt;
    for (const auto& candidate : list(0, kLatestScan, "", "sent")) {
      if (!candidate.ask_ack) continue;
      page = messenger_.recipients(candidate.broadcast_id, q);
      if (page.total > 0) {
        notice = candidate;
        break;
      }
    }
    if (!notice) return std::nullopt;
  }
  Unread out;
  out.notice = *notice;
  // A household has seen it when any member it was for acknowledged.
  std::vector<std::int64_t> ids;
  for (const auto& r : page.items) ids.push_back(r.person_id);
  const auto people = directory_.persons(ids);
  std::map<std::int64_t, std::vector<Person>> by_household;
  std::set<std::int64_t> acknowledged;
  std::unordered_map<std::int64_t, bool> acked_person;
  for (const auto& r : page.items) acked_person[r.person_id] = r.acked_at_ms > 0;
  for (const auto& p : people) {
    by_household[p.household_id].push_back(p);
    if (acked_person[p.id]) acknowledged.insert(p.household_id);
  }
  out.linked_households = static_cast<std::int64_t>(by_household.size());
  for (auto& [hid, members] : by_household) {
    if (acknowledged.contains(hid)) continue;
    UnreadHousehold u;
    u.household = directory_.household(hid).value_or(Household{hid, "#" + std::to_string(hid), "", 0, 0});
    u.members = std::move(members);
    out.households.push_back(std::move(u));
  }
  std::sort(out.households.begin(), out.households.end(),
            [](const UnreadHousehold& a, const UnreadHousehold& b) { return a.household.code < b.household.code; });
  return out;
}

std::vector<OrgUnit> Notices::scope_of(std::int64_t person_id) {
  return plugin_support::scope_units(directory_, person_id);
}

void Notices::check_scope(const Audience& audience, std::int64_t person_id) {
  const auto units = scope_of(person_id);
  const auto outside = plugin_support::outside_scope(directory_, units, audience);
  if (outside == 0) return;
  const std::string names = plugin_support::unit_names(units);
  throw NoticeError("out_of_scope", "通知对象中有 " + std::to_string(outside) + " 人不在您负责的范围（" + names +
                                        "）内，不能发送 / " + std::to_string(outside) +
                                        " persons in the audience are outside your units (" + names + ")");
}

}  // namespace villagebot::announcements
