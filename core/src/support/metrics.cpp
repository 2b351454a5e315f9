#include "support/metrics.hpp"

#include <sstream>

namespace villagebot::support {

void append_label(std::string& out, std::string_view key, std::string_view value) {
  out += key;
  out += "=\"";
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
}

std::string label(std::string_view key, std::string_view value) {
  std::string out;
  append_label(out, key, value);
  return out;
}

namespace {
// The labels joined with commas, in a buffer of the calling thread.
std::string_view joined(Metrics::Labels labels) {
  thread_local std::string buffer;
  buffer.clear();
  for (const auto& [key, value] : labels) {
    if (!buffer.empty()) buffer += ',';
    append_label(buffer, key, value);
  }
  return buffer;
}
}  // namespace

void Metrics::add(std::string_view name, Labels labels, double value) {
  add(name, joined(labels), value);
}

void Metrics::observe(std::string_view name, Labels labels, double seconds) {
  observe(name, joined(labels), seconds);
}

void Metrics::describe(const std::string& name, std::string type, std::string help) {
  std::lock_guard lock(mutex_);
  families_[name] = Family{std::move(type), std::move(help)};
}

namespace {
// map[key] without building a std::string when the key is there already.
template <class Map>
typename Map::mapped_type& slot(Map& map, std::string_view key) {
  auto it = map.find(key);
  if (it == map.end()) it = map.emplace(std::string(key), typename Map::mapped_type{}).first;
  return it->second;
}
}  // namespace

void Metrics::add(std::string_view name, std::string_view labels, double value) {
  std::lock_guard lock(mutex_);
  slot(slot(counters_, name), labels) += value;
}

void Metrics::observe(std::string_view name, std::string_view labels, double seconds) {
  std::lock_guard lock(mutex_);
  auto& h = slot(slot(histograms_, name), labels);
  for (std::size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
}

void Metrics::gauge(const std::string& name, std::string help, std::function<double()> read) {
  std::lock_guard lock(mutex_);
  families_[name] = Family{"gauge", std::move(help)};
  gauges_.emplace_back(name, std::move(read));
}

double Metrics::value(const std::string& name, const std::string& labels) const {
  std::lock_guard lock(mutex_);
  auto it = counters_.find(name);
  if (it == counters_.end()) return 0;
  auto jt = it->second.find(labels);
  return jt == it->second.end() ? 0 : jt->second;
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::ostringstream out;
  auto header = [&](const std::string& name, const char* fallback_type) {
    auto it = families_.find(name);
    if (it != families_.end()) {
      out << "# HELP " << name << ' ' << it->second.help << '\n';
      out << "# TYPE " << name << ' ' << it->second.type << '\n';
    } else {
      out << "# TYPE " << name << ' ' << fallback_type << '\n';
    }
  };
  for (const auto& [name, series] : counters_) {
    header(name, "counter");
    for (const auto& [labels, v] : series)
      out << name << (labels.empty() ? "" : "{" + labels + "}") << ' ' << v << '\n';
  }
  // A described counter with nothing counted yet is still announced, so that a dashboard or an
  // alert rule finds the family from the first scrape.
  for (const auto& [name, family] : families_)
    if (family.type == "counter" && !counters_.contains(name)) header(name, "counter");
  for (const auto& [name, series] : histograms_) {
    header(name, "histogram");
    for (const auto& [labels, h] : series) {
      const std::string sep = labels.empty() ? "" : labels + ",";
      for (std::size_t i = 0; i < kBuckets.size(); ++i)
        out << name << "_bucket{" << sep << "le=\"" << kBuckets[i] << "\"} " << h.buckets[i] << '\n';
      out << name << "_bucket{" << sep << "le=\"+Inf\"} " << h.count << '\n';
      out << name << "_sum" << (labels.empty() ? "" : "{" + labels + "}") << ' ' << h.sum << '\n';
      out << name << "_count" << (labels.empty() ? "" : "{" + labels + "}") << ' ' << h.count << '\n';
    }
  }
  for (const auto& [name, read] : gauges_) {
    header(name, "gauge");
    double v = 0;
    try {
      v = read();
    } catch (...) {  // a gauge that cannot be read shows 0 rather than breaking the scrape
    }
    out << name << ' ' << v << '\n';
  }
  return out.str();
}

}  // namespace villagebot::support
