#pragma once
#include <array>
#include <functional>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace villagebot::support {

// A small Prometheus registry: labelled counters, one latency histogram
// family, and gauges read at scrape time.
class Metrics {
 public:
  static constexpr std::array<double, 12> kBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
  // Names and labels are looked up without copying them; only a series seen
  // for the first time is stored.
  void add(std::string_view name, std::string_view labels, double value = 1.0);
  void observe(std::string_view name, std::string_view labels, double seconds);
  // The same with the labels as key/value pairs, written into a buffer of the calling thread:
  // no allocation on the paths every message takes.
  using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;
  void add(std::string_view name, Labels labels, double value = 1.0);
  void observe(std::string_view name, Labels labels, double seconds);
  void gauge(const std::string& name, std::string help, std::function<double()> read);
  void describe(const std::string& name, std::string type, std::string help);
  [[nodiscard]] std::string render() const;
  [[nodiscard]] double value(const std::string& name, const std::string& labels) const;

 private:
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  struct Family {
    std::string type;
    std::string help;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
  std::map<std::string, std::map<std::string, double, std::less<>>, std::less<>> counters_;
  std::map<std::string, std::map<std::string, Histogram, std::less<>>, std::less<>> histograms_;
  std::vector<std::pair<std::string, std::function<double()>>> gauges_;
};

// Escapes a label value for the text format.
std::string label(std::string_view key, std::string_view value);
// Appends key="value" (escaped) to out.
void append_label(std::string& out, std::string_view key, std::string_view value);

}  // namespace villagebot::support
