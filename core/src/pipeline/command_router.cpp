#include "pipeline/command_router.hpp"

#include <algorithm>
#include <stdexcept>

#include "villagebot/text.hpp"

namespace villagebot::pipeline {

namespace {

bool is_ascii_word_char(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '_' || c == '?';
}

// An ASCII keyword must stand alone ("jf 1", not "jfx"); a Chinese keyword
// may run into its argument, as people type on feature phones ("兑换A01").
bool keyword_at_start(const std::string& lower_text, const std::string& keyword) {
  if (lower_text.compare(0, keyword.size(), keyword) != 0) return false;
  if (lower_text.size() == keyword.size()) return true;
  const auto last = static_cast<unsigned char>(keyword.back());
  if (last >= 0x80) return true;
  const auto next = static_cast<unsigned char>(lower_text[keyword.size()]);
  return next == ' ' || !is_ascii_word_char(next) || !is_ascii_word_char(last);
}

}  // namespace

Registration CommandRouter::add(CommandSpec spec) {
  return add_owned(std::move(spec), "core");
}

Registration CommandRouter::add_owned(CommandSpec spec, std::string owner) {
  if (!spec.handler) throw std::invalid_argument("command '" + spec.name + "' has no handler");
  if (spec.keywords.empty() && spec.patterns.empty())
    throw std::invalid_argument("command '" + spec.name + "' has neither keywords nor patterns");
  auto entry = std::make_shared<Entry>();
  for (const auto& p : spec.patterns) {
    try {
      entry->patterns.emplace_back(p, std::regex::ECMAScript | std::regex::icase);
    } catch (const std::regex_error& e) {
      throw std::invalid_argument("command '" + spec.name + "': invalid pattern '" + p + "': " + e.what());
    }
  }
  entry->spec = std::move(spec);
  entry->owner = std::move(owner);
  std::vector<std::string> keys;
  for (const auto& k : entry->spec.keywords) keys.push_back(text::ascii_lower(text::normalise_command(k)));
  {
    std::unique_lock lock(mutex_);
    for (const auto& k : keys) {
      if (k.empty()) throw std::invalid_argument("command '" + entry->spec.name + "' has an empty keyword");
      if (auto it = by_keyword_.find(k); it != by_keyword_.end())
        throw std::invalid_argument("keyword '" + k + "' of command '" + entry->spec.name + "' is already used by '" +
                                    it->second->spec.name + "'");
    }
    entry->order = next_order_++;
    for (const auto& k : keys) by_keyword_.emplace(k, entry);
    entries_.push_back(entry);
  }
  return Registration([this, keys, raw = entry.get()] {
    std::unique_lock lock(mutex_);
    for (const auto& k : keys) {
      auto it = by_keyword_.find(k);
      if (it != by_keyword_.end() && it->second.get() == raw) by_keyword_.erase(it);
    }
    std::erase_if(entries_, [raw](const auto& e) { return e.get() == raw; });
  });
}

std::optional<CommandRouter::Match> CommandRouter::match(const std::string& normalised) const {
  const std::string lower = text::ascii_lower(normalised);
  std::shared_lock lock(mutex_);
  // Longest keyword first, so 积分明细 wins over 积分.
  const std::string* best_key = nullptr;
  std::shared_ptr<const Entry> best;
  for (const auto& [k, e] : by_keyword_) {
    if (k.size() > lower.size()) continue;
    if (best_key != nullptr && k.size() <= best_key->size()) continue;
    if (keyword_at_start(lower, k)) {
      best_key = &k;
      best = e;
    }
  }
  if (best) {
    Match m{best, normalised.substr(0, best_key->size()), text::trim(normalised.substr(best_key->size()))};
    return m;
  }
  std::shared_ptr<const Entry> by_pattern;
  for (const auto& e : entries_) {
    for (const auto& re : e->patterns) {
      if (std::regex_search(normalised, re)) {
        if (!by_pattern || e->order < by_pattern->order) by_pattern = e;
        break;
      }
    }
  }
  if (by_pattern) return Match{by_pattern, "", normalised};
  return std::nullopt;
}

bool CommandRouter::permitted(const CommandSpec& spec, const Person& sender) {
  if (spec.allow_unregistered) return true;
  if (sender.id == 0) return false;
  if (spec.roles.empty() || sender.has_role(role::kAdmin)) return true;
  return std::any_of(spec.roles.begin(), spec.roles.end(), [&](const auto& r) { return sender.has_role(r); });
}

std::vector<std::shared_ptr<const CommandRouter::Entry>> CommandRouter::allowed_for(const Person& sender) const {
  std::shared_lock lock(mutex_);
  std::vector<std::shared_ptr<const Entry>> out;
  for (const auto& e : entries_)
    if (permitted(e->spec, sender)) out.push_back(e);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->order < b->order; });
  return out;
}

std::vector<std::string> CommandRouter::closest(const std::string& normalised, const Person& sender,
                                                std::size_t n) const {
  const std::string lower = text::ascii_lower(normalised);
  const auto words = text::split_ws(lower);
  const std::string first = words.empty() ? lower : words.front();
  struct Scored {
    std::size_t score;
    std::uint64_t order;
    std::string keyword;
  };
  std::vector<Scored> scored;
  for (const auto& e : allowed_for(sender)) {
    if (e->spec.keywords.empty()) continue;
    std::size_t best = static_cast<std::size_t>(-1);
    std::string best_keyword;
    for (const auto& k : e->spec.keywords) {
      const std::string lk = text::ascii_lower(k);
      // A keyword inside the text ("我想查积分") is the strongest hint.
      // Only keywords of two or more characters: "?" or "1" are inside almost anything.
      const bool inside = text::length_u32(lk) >= 2 && lower.find(lk) != std::string::npos;
      const std::size_t s = inside ? 0 : text::edit_distance(first, lk);
      if (s < best) {
        best = s;
        best_keyword = k;  // suggest the spelling closest to what was typed
      }
    }
    scored.push_back({best, e->order, best_keyword});
  }
  std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    return a.score != b.score ? a.score < b.score : a.order < b.order;
  });
  std::vector<std::string> out;
  for (std::size_t i = 0; i < scored.size() && out.size() < n; ++i) out.push_back(scored[i].keyword);
  return out;
}

Registration CommandRouter::intercept(PromptHandler handler) {
  std::lock_guard lock(interceptors_mutex_);
  const auto id = next_interceptor_++;
  interceptor_map_.emplace(id, std::move(handler));
  auto rebuild = [this] {
    auto v = std::make_shared<std::vector<PromptHandler>>();
    for (const auto& [key, h] : interceptor_map_) v->push_back(h);
    interceptors_ = std::move(v);
  };
  rebuild();
  return Registration([this, id, rebuild] {
    std::lock_guard undo_lock(interceptors_mutex_);
    interceptor_map_.erase(id);
    rebuild();
  });
}

std::shared_ptr<const std::vector<PromptHandler>> CommandRouter::interceptors() const {
  std::lock_guard lock(interceptors_mutex_);
  return interceptors_;
}

void CommandRouter::ask(std::int64_t person_id, std::chrono::seconds timeout, PromptHandler handler) {
  std::lock_guard lock(prompts_mutex_);
  prompts_[person_id] = Prompt{std::move(handler), Clock::now() + timeout, next_generation_++};
}

std::optional<std::pair<PromptHandler, std::uint64_t>> CommandRouter::pending_prompt(std::int64_t person_id) {
  std::lock_guard lock(prompts_mutex_);
  auto it = prompts_.find(person_id);
  if (it == prompts_.end()) return std::nullopt;
  if (it->second.expires < Clock::now()) {
    prompts_.erase(it);
    return std::nullopt;
  }
  return std::make_pair(it->second.handler, it->second.generation);
}

void CommandRouter::consume_prompt(std::int64_t person_id, std::uint64_t generation) {
  std::lock_guard lock(prompts_mutex_);
  auto it = prompts_.find(person_id);
  if (it != prompts_.end() && it->second.generation == generation) prompts_.erase(it);
}

}  // namespace villagebot::pipeline
