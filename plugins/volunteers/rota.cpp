#include "rota.hpp"

#include <algorithm>
#include <limits>

namespace villagebot::volunteers {

namespace {

bool overlaps(std::int64_t a0, std::int64_t a1, std::int64_t b0, std::int64_t b1) {
  return a0 < b1 && b0 < a1;
}

bool has_role(const RotaVolunteer& v, const std::string& role) {
  return role.empty() || std::find(v.roles.begin(), v.roles.end(), role) != v.roles.end();
}

}  // namespace

Rota generate_rota(std::vector<RotaShift> shifts, const std::vector<RotaVolunteer>& volunteers,
                   const RotaOptions& options) {
  std::stable_sort(shifts.begin(), shifts.end(), [](const RotaShift& a, const RotaShift& b) {
    return a.start_ms != b.start_ms ? a.start_ms < b.start_ms : a.id < b.id;
  });
  std::vector<const RotaVolunteer*> people;
  for (const auto& v : volunteers) people.push_back(&v);
  std::sort(people.begin(), people.end(),
            [](const RotaVolunteer* a, const RotaVolunteer* b) { return a->person_id < b->person_id; });
  Rota rota;
  std::map<std::int64_t, int> count;
  std::map<std::int64_t, std::vector<Interval>> taken;  // person → their assigned shifts
  for (const auto* v : people) rota.load[v->person_id] = v->hours_before_ms;
  for (const auto& s : shifts) {
    std::vector<std::int64_t> on_this;
    for (int place = 0; place < s.capacity; ++place) {
      const RotaVolunteer* best = nullptr;
      for (const auto* v : people) {
        if (!has_role(*v, s.required_role)) continue;
        if (std::find(on_this.begin(), on_this.end(), v->person_id) != on_this.end()) continue;
        bool free = true;
        for (const auto& u : v->unavailable)
          if (overlaps(s.start_ms, s.end_ms, u.start_ms, u.end_ms)) free = false;
        // No overlap and no back-to-back: at least min_rest between two shifts of one person.
        for (const auto& t : taken[v->person_id])
          if (overlaps(s.start_ms - options.min_rest_ms, s.end_ms + options.min_rest_ms, t.start_ms, t.end_ms))
            free = false;
        if (!free) continue;
        if (best == nullptr) {
          best = v;
          continue;
        }
        const auto lv = rota.load[v->person_id], lb = rota.load[best->person_id];
        if (lv < lb || (lv == lb && count[v->person_id] < count[best->person_id])) best = v;
      }
      if (best == nullptr) {
        rota.unfilled[s.id] = s.capacity - place;
        break;
      }
      on_this.push_back(best->person_id);
      rota.assignments.push_back({s.id, best->person_id});
      rota.load[best->person_id] += s.end_ms - s.start_ms;
      ++count[best->person_id];
      taken[best->person_id].push_back({s.start_ms, s.end_ms});
    }
  }
  return rota;
}

Fairness fairness(const Rota& rota, const std::vector<RotaVolunteer>& volunteers) {
  Fairness f;
  if (volunteers.empty()) return f;
  f.min_hours = std::numeric_limits<double>::max();
  double total = 0;
  for (const auto& v : volunteers) {
    const auto it = rota.load.find(v.person_id);
    const double h = static_cast<double>(it == rota.load.end() ? 0 : it->second) / 3600000.0;
    f.min_hours = std::min(f.min_hours, h);
    f.max_hours = std::max(f.max_hours, h);
    total += h;
  }
  f.people = static_cast<std::int64_t>(volunteers.size());
  f.mean_hours = total / static_cast<double>(f.people);
  return f;
}

std::vector<Problem> check_rota(const std::vector<Assignment>& assignments, const std::vector<RotaShift>& shifts,
                                const std::vector<RotaVolunteer>& volunteers, const RotaOptions& options, Rota& rota) {
  std::map<std::int64_t, const RotaShift*> shift_by_id;
  for (const auto& s : shifts) shift_by_id[s.id] = &s;
  std::map<std::int64_t, const RotaVolunteer*> person_by_id;
  for (const auto& v : volunteers) person_by_id[v.person_id] = &v;
  rota = Rota{};
  for (const auto& v : volunteers) rota.load[v.person_id] = v.hours_before_ms;
  std::vector<Problem> problems;
  std::map<std::int64_t, int> filled;
  std::map<std::int64_t, std::vector<std::pair<std::int64_t, Interval>>> taken;  // person → (shift, times)
  for (const auto& a : assignments) {
    const auto s = shift_by_id.find(a.shift_id);
    const auto v = person_by_id.find(a.person_id);
    if (s == shift_by_id.end()) {
      problems.push_back({a.shift_id, a.person_id, "unknown_shift"});
      continue;
    }
    if (v == person_by_id.end()) {
      problems.push_back({a.shift_id, a.person_id, "unknown_person"});
      continue;
    }
    const RotaShift& sh = *s->second;
    const RotaVolunteer& vol = *v->second;
    bool twice = false, rest = false, away = false;
    for (const auto& [id, t] : taken[a.person_id]) {
      if (id == sh.id)
        twice = true;
      else if (overlaps(sh.start_ms - options.min_rest_ms, sh.end_ms + options.min_rest_ms, t.start_ms, t.end_ms))
        rest = true;
    }
    for (const auto& u : vol.unavailable)
      if (overlaps(sh.start_ms, sh.end_ms, u.start_ms, u.end_ms)) away = true;
    const char* code = twice                              ? "duplicate"
                       : filled[sh.id] >= sh.capacity     ? "over_capacity"
                       : !has_role(vol, sh.required_role) ? "role"
                       : away                             ? "unavailable"
                       : rest                             ? "rest"
                                                          : nullptr;
    if (code != nullptr) {
      problems.push_back({a.shift_id, a.person_id, code});
      continue;
    }
    ++filled[sh.id];
    taken[a.person_id].push_back({sh.id, {sh.start_ms, sh.end_ms}});
    rota.assignments.push_back(a);
    rota.load[a.person_id] += sh.end_ms - sh.start_ms;
  }
  for (const auto& s : shifts)
    if (filled[s.id] < s.capacity) rota.unfilled[s.id] = s.capacity - filled[s.id];
  return problems;
}

}  // namespace villagebot::volunteers
