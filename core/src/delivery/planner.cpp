#include "delivery/planner.hpp"

#include <map>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "villagebot/sms.hpp"
#include "villagebot/text.hpp"

namespace villagebot::delivery {

namespace {

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

struct Target {
  std::int64_t id = 0;
  std::string phone;
  bool opted_out = false;
  std::int64_t unit = 0;
  std::string preference;
  std::map<std::string, std::string> identities;  // kind → external id
  std::string name;                               // for personalised texts
  std::string household;                          // 户号
  bool english = false;
};

std::vector<Target> load_targets(Session& s, const std::vector<std::int64_t>& ids, bool details = false) {
  std::vector<Target> out;
  if (ids.empty()) return out;
  const std::string list = nlohmann::json(ids).dump();
  std::unordered_map<std::int64_t, std::size_t> at;
  out.reserve(ids.size());
  for (const Row& r : s.query("SELECT id, COALESCE(phone, ''), opted_out, COALESCE(org_unit_id, 0), channel_preference "
                              "FROM core_persons WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
                              {list})) {
    at[r.integer(0)] = out.size();
    out.push_back(Target{r.integer(0), r.text(1), r.integer(2) != 0, r.integer(3), r.text(4), {}, {}, {}, false});
  }
  if (details)
    for (const Row& r : s.query("SELECT p.id, p.name, COALESCE(h.code, ''), p.lang FROM core_persons p "
                                "LEFT JOIN core_households h ON h.id = p.household_id "
                                "WHERE p.id IN (SELECT value FROM json_each(?))",
                                {list}))
      if (auto it = at.find(r.integer(0)); it != at.end()) {
        Target& t = out[it->second];
        t.name = r.text(1);
        t.household = r.text(2);
        t.english = r.text(3).starts_with("en");
      }
  for (const Row& r : s.query("SELECT person_id, kind, external_id FROM core_identities "
                              "WHERE person_id IN (SELECT value FROM json_each(?)) ORDER BY external_id",
                              {list}))
    if (auto it = at.find(r.integer(0)); it != at.end()) out[it->second].identities.emplace(r.text(1), r.text(2));
  return out;
}

std::string address_on(const Target& t, const Channel& c) {
  if (c.identity_kind == "phone") return t.phone;
  auto it = t.identities.find(c.identity_kind);
  return it == t.identities.end() ? std::string() : it->second;
}

// Preference first, then chat channels in config order, then SMS.
PersonalRoute route(const Target& t, const std::vector<Channel>& channels, bool essential, bool sms_only) {
  PersonalRoute best;
  std::vector<std::size_t> order;
  if (!sms_only && !t.preference.empty())
    for (std::size_t i = 0; i < channels.size(); ++i)
      if (channels[i].personal && (t.preference == "sms" ? channels[i].sms : channels[i].identity_kind == t.preference))
        order.push_back(i);
  if (!sms_only)
    for (std::size_t i = 0; i < channels.size(); ++i)
      if (channels[i].personal && !channels[i].sms) order.push_back(i);
  for (std::size_t i = 0; i < channels.size(); ++i)
    if (channels[i].personal && channels[i].sms) order.push_back(i);
  for (std::size_t i : order) {
    const std::string address = address_on(t, channels[i]);
    if (address.empty()) continue;
    if (channels[i].sms && t.opted_out && !essential) {
      best.opted_out = true;  // try a chat channel instead
      continue;
    }
    best.channel = i;
    best.address = address;
    return best;
  }
  return best;
}

void replace_all(std::string& text, std::string_view from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

}  // namespace

std::string personalised_text(const Broadcast& b, const std::string& name, const std::string& household, bool english,
                              bool group) {
  std::string text = english && !b.text_en.empty() && !group ? b.text_en : b.text;
  if (!b.personalise) return text;
  if (group) {
    replace_all(text, "{name}", "各位村民");
    replace_all(text, "{household}", "各户");
  } else {
    replace_all(text, "{name}", name);
    replace_all(text, "{household}", household);
  }
  return text;
}

PersonalRoute route_person(Session& session, std::int64_t person_id, const std::vector<Channel>& channels,
                           bool essential, bool sms_only) {
  auto targets = load_targets(session, {person_id});
  if (targets.empty()) return {};
  return route(targets[0], channels, essential, sms_only);
}

Planned plan_broadcast(Session& s, Directory& directory, const std::vector<Channel>& channels, const Broadcast& b) {
  Planned out;
  const auto ids = directory.resolve(b.audience);
  // Names, 户号 and languages only when the text differs per person.
  const auto targets = load_targets(s, ids, b.personalise || !b.text_en.empty());
  out.plan.persons = static_cast<std::int64_t>(targets.size());
  // SMS parts per channel (each SMS adapter may put its own signature in front).
  std::map<std::string, int> common_segments;
  for (const auto& c : channels)
    if (c.sms) common_segments[c.id] = static_cast<int>(sms::count(b.text, c.sms_signature));
  auto base_row = [&](const Channel& c, ChannelKind kind, const std::string& address, const Target* person) {
    OutboxRow r;
    r.adapter_id = c.id;
    r.channel = kind;
    r.address = address;
    r.person_id = person != nullptr ? person->id : 0;
    const bool same = !b.personalise && (b.text_en.empty() || person == nullptr || !person->english);
    r.text =
        same ? b.text
             : personalised_text(b, person != nullptr ? person->name : "", person != nullptr ? person->household : "",
                                 person != nullptr && person->english, person == nullptr);
    r.priority = b.priority;
    r.essential = b.essential;
    r.sms = c.sms;
    r.segments = c.sms ? (same ? common_segments[c.id] : static_cast<int>(sms::count(r.text, c.sms_signature))) : 0;
    return r;
  };

  std::vector<bool> covered(targets.size(), false);
  out.recipients.resize(targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) out.recipients[i] = Recipient{targets[i].id, kNone, "none"};

  const bool every = b.policy == ChannelPolicy::every_channel;
  std::vector<bool> in_group(targets.size(), false);  // every_channel: a group post reaches them too
  if (b.policy == ChannelPolicy::group_first || every) {
    // Group chats of this process's adapters, each covering its unit's subtree.
    for (const Row& g :
         s.query("SELECT adapter_id, chat_id, COALESCE(org_unit_id, 0) FROM core_group_chats ORDER BY id")) {
      std::size_t ci = kNone;
      for (std::size_t i = 0; i < channels.size(); ++i)
        if (channels[i].id == g.text(0) && channels[i].group) ci = i;
      if (ci == kNone) continue;
      std::unordered_set<std::int64_t> units;
      if (g.integer(2) > 0) {
        for (const Row& u : s.query("WITH RECURSIVE sub(id) AS (SELECT ? UNION SELECT o.id FROM core_org_units o "
                                    "JOIN sub ON o.parent_id = sub.id) SELECT id FROM sub",
                                    {g.integer(2)}))
          units.insert(u.integer(0));
      }
      std::vector<std::size_t> members;
      for (std::size_t i = 0; i < targets.size(); ++i) {
        if (covered[i] || in_group[i]) continue;
        // Members of the chat: in its unit (all units when it has none) and on its platform.
        if (!units.empty() && !units.contains(targets[i].unit)) continue;
        if (address_on(targets[i], channels[ci]).empty()) continue;
        members.push_back(i);
      }
      if (members.empty()) continue;
      out.rows.push_back(base_row(channels[ci], ChannelKind::group, g.text(1), nullptr));
      if (b.mention_in_groups) {
        // @ the people this post is for (a robot takes a limited list: the first 100).
        std::string& mentions = out.rows.back().mentions;
        int n = 0;
        for (std::size_t i : members)
          if (!targets[i].phone.empty() && n++ < 100) mentions += (mentions.empty() ? "" : ",") + targets[i].phone;
      }
      ++out.plan.group_posts;
      for (std::size_t i : members) {
        (every ? in_group : covered)[i] = true;
        out.recipients[i].row = out.rows.size() - 1;
        out.recipients[i].via = "group";
        ++out.plan.covered_by_groups;
      }
    }
  }
  const bool sms_only = b.policy == ChannelPolicy::sms_all || every;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (covered[i]) continue;
    PersonalRoute r = route(targets[i], channels, b.essential, sms_only);
    // every_channel: SMS to everyone with a phone; a private chat for those without one.
    if (r.channel == kNone && every) r = route(targets[i], channels, b.essential, false);
    if (r.channel == kNone && in_group[i]) continue;  // the group post is all that reaches them
    if (r.channel == kNone) {
      if (r.opted_out) {
        ++out.plan.opted_out;
        out.recipients[i].via = "opted_out";  // 退订: the status view says why nothing was sent
      } else {
        ++out.plan.unreachable;
      }
      continue;
    }
    const Channel& c = channels[r.channel];
    out.rows.push_back(base_row(c, ChannelKind::personal, r.address, &targets[i]));
    out.recipients[i].row = out.rows.size() - 1;
    out.recipients[i].via = c.sms ? "sms" : "personal";
    if (c.sms) {
      const int segments = out.rows.back().segments;
      ++out.plan.sms;
      out.plan.sms_segments += segments;
      out.plan.estimated_cost += segments * c.cost_per_segment;
    } else {
      ++out.plan.personal_chats;
    }
  }
  return out;
}

}  // namespace villagebot::delivery
