// The rota generator (issue 9): 40 volunteers × 4 posts × 8 weeks — every shift that can be
// filled is filled, the hours differ by at most one shift's length, unavailability and the
// 党员岗's role are honoured, nobody works two shifts back to back, and the same input gives
// the same rota.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "rota.hpp"

namespace villagebot::volunteers {
namespace {

constexpr std::int64_t kHour = 3600LL * 1000;
constexpr std::int64_t kDay = 24 * kHour;
constexpr std::int64_t kStart = 1'796'004'000'000;  // a Monday morning

struct Case {
  std::vector<RotaShift> shifts;
  std::vector<RotaVolunteer> volunteers;
};

// Posts 1–4 (post 1 is the 党员岗), each on Saturday and Sunday, two hours, two places, the
// posts one after another with an hour between; volunteers 1–15 are party members; 1–5 are
// away in weeks 3 and 4.
Case village() {
  Case c;
  std::int64_t id = 0;
  for (int week = 0; week < 8; ++week)
    for (int day : {5, 6})
      for (int post = 1; post <= 4; ++post) {
        RotaShift s;
        s.id = ++id;
        s.post_id = post;
        s.start_ms = kStart + (week * 7 + day) * kDay + (post - 1) * 3 * kHour;
        s.end_ms = s.start_ms + 2 * kHour;
        s.capacity = 2;
        s.required_role = post == 1 ? "party_member" : "";
        c.shifts.push_back(s);
      }
  for (int p = 1; p <= 40; ++p) {
    RotaVolunteer v;
    v.person_id = p;
    v.roles = {"volunteer"};
    if (p <= 15) v.roles.push_back("party_member");
    if (p <= 5) v.unavailable.push_back({kStart + 14 * kDay, kStart + 28 * kDay});
    c.volunteers.push_back(v);
  }
  return c;
}

TEST(Rota, FillsEveryShiftFairlyAndHonoursRolesUnavailabilityAndRest) {
  const Case c = village();
  const Rota rota = generate_rota(c.shifts, c.volunteers);
  EXPECT_TRUE(rota.unfilled.empty());
  EXPECT_EQ(rota.assignments.size(), 4u * 2 * 8 * 2);

  std::map<std::int64_t, const RotaShift*> shift;
  for (const auto& s : c.shifts) shift[s.id] = &s;
  std::map<std::int64_t, std::vector<const RotaShift*>> of_person;
  std::map<std::int64_t, std::set<std::int64_t>> on_shift;
  for (const auto& a : rota.assignments) {
    const RotaShift& s = *shift.at(a.shift_id);
    EXPECT_TRUE(on_shift[a.shift_id].insert(a.person_id).second) << "twice on one shift";
    if (s.post_id == 1) {
      EXPECT_LE(a.person_id, 15) << "the 党员岗 takes party members only";
    }
    if (a.person_id <= 5) {
      EXPECT_FALSE(s.start_ms < kStart + 28 * kDay && kStart + 14 * kDay < s.end_ms) << "away, yet on shift " << s.id;
    }
    of_person[a.person_id].push_back(&s);
  }
  for (const auto& [id, people] : on_shift) EXPECT_EQ(people.size(), 2u) << "shift " << id;
  for (auto& [person, list] : of_person)
    for (std::size_t i = 0; i < list.size(); ++i)
      for (std::size_t j = i + 1; j < list.size(); ++j)
        EXPECT_FALSE(list[i]->start_ms < list[j]->end_ms + kHour && list[j]->start_ms < list[i]->end_ms + kHour)
            << "person " << person << ": shifts " << list[i]->id << " and " << list[j]->id << " back to back";
  const Fairness f = fairness(rota, c.volunteers);
  EXPECT_LE(f.max_hours - f.min_hours, 2.0) << "min " << f.min_hours << " max " << f.max_hours;
  EXPECT_NEAR(f.mean_hours, 128 * 2.0 / 40, 1e-9);
}

TEST(Rota, TheSameInputGivesTheSameRotaWhateverTheOrder) {
  Case c = village();
  const Rota first = generate_rota(c.shifts, c.volunteers);
  std::reverse(c.shifts.begin(), c.shifts.end());
  std::reverse(c.volunteers.begin(), c.volunteers.end());
  const Rota second = generate_rota(c.shifts, c.volunteers);
  ASSERT_EQ(first.assignments.size(), second.assignments.size());
  for (std::size_t i = 0; i < first.assignments.size(); ++i) {
    EXPECT_EQ(first.assignments[i].shift_id, second.assignments[i].shift_id);
    EXPECT_EQ(first.assignments[i].person_id, second.assignments[i].person_id);
  }
}

TEST(Rota, PlacesNobodyCanTakeAreReportedNotForced) {
  Case c;
  c.shifts.push_back({1, 1, kStart, kStart + 2 * kHour, 3, "party_member"});
  c.volunteers.push_back({1, {"party_member"}, {}, 0});
  c.volunteers.push_back({2, {"volunteer"}, {}, 0});
  const Rota rota = generate_rota(c.shifts, c.volunteers);
  ASSERT_EQ(rota.assignments.size(), 1u);
  EXPECT_EQ(rota.assignments[0].person_id, 1);
  EXPECT_EQ(rota.unfilled.at(1), 2);
}

}  // namespace
}  // namespace villagebot::volunteers
