#pragma once
// Rota generation (轮流管, issue 9): assign volunteers to shifts fairly and deterministically.
// A pure function of its input, so that a preview and the published rota are the same and a
// test can check the properties: every shift filled that can be (capacity, the post's role,
// unavailability, no overlapping or back-to-back shifts for one person), and the hours spread
// evenly (most-loaded minus least-loaded within one shift's length when shifts are equal).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace villagebot::volunteers {

struct RotaShift {
  std::int64_t id = 0;
  std::int64_t post_id = 0;
  std::int64_t start_ms = 0, end_ms = 0;
  int capacity = 1;
  std::string required_role;  // "" any volunteer; party_member for 党员岗
};

struct Interval {
  std::int64_t start_ms = 0, end_ms = 0;
};

struct RotaVolunteer {
  std::int64_t person_id = 0;
  std::vector<std::string> roles;
  std::vector<Interval> unavailable;
  std::int64_t hours_before_ms = 0;  // already served in the period (earlier, or fixed sign-ups)
};

struct RotaOptions {
  std::int64_t min_rest_ms = 60LL * 60 * 1000;  // no two shifts of one person closer than this
};

struct Assignment {
  std::int64_t shift_id = 0;
  std::int64_t person_id = 0;
};

struct Rota {
  std::vector<Assignment> assignments;        // by shift start, then shift id, then person
  std::map<std::int64_t, int> unfilled;       // shift id → places nobody could take
  std::map<std::int64_t, std::int64_t> load;  // person → milliseconds assigned (incl. hours_before)
};

// Shifts in order of start; for each place, the eligible volunteer with the least load (ties:
// fewest shifts, then lowest person id). Deterministic for the same input.
Rota generate_rota(std::vector<RotaShift> shifts, const std::vector<RotaVolunteer>& volunteers,
                   const RotaOptions& options = {});

// Hours per person: min, max, mean (over the volunteers given), for the fairness report.
struct Fairness {
  double min_hours = 0, max_hours = 0, mean_hours = 0;
  std::int64_t people = 0;
};
Fairness fairness(const Rota& rota, const std::vector<RotaVolunteer>& volunteers);

// A rota given by hand (an adjusted draft), checked against the same rules: what is wrong with
// each assignment (code: unknown_shift, unknown_person, duplicate, over_capacity, role,
// unavailable, rest), and the loads and unfilled places it leaves in `rota`.
struct Problem {
  std::int64_t shift_id = 0, person_id = 0;
  std::string code;
};
std::vector<Problem> check_rota(const std::vector<Assignment>& assignments, const std::vector<RotaShift>& shifts,
                                const std::vector<RotaVolunteer>& volunteers, const RotaOptions& options, Rota& rota);

}  // namespace villagebot::volunteers
