#pragma once
// What the fuzz targets (tests/fuzz/targets/) share: an invariant check, splitting one input into
// the fields a function takes, and reading a status code off an input field.
#include <cstddef>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace villagebot::fuzz {

// A violated invariant: abort, so that libFuzzer (and the replay) report the input.
inline void check(bool ok) {
  if (!ok) std::abort();
}

// `in` cut at the 0x1F bytes into exactly n fields (the last takes the rest; missing ones are "").
inline std::vector<std::string> split(std::string_view in, std::size_t n) {
  std::vector<std::string> out;
  while (out.size() + 1 < n) {
    const auto sep = in.find('\x1f');
    if (sep == std::string_view::npos) break;
    out.emplace_back(in.substr(0, sep));
    in.remove_prefix(sep + 1);
  }
  out.emplace_back(in);
  out.resize(n);
  return out;
}

// The digits among the first three characters, as an HTTP status (0 if none).
inline int status_of(const std::string& s) {
  int v = 0;
  for (char c : s.substr(0, 3))
    if (c >= '0' && c <= '9') v = v * 10 + (c - '0');
  return v;
}

}  // namespace villagebot::fuzz
