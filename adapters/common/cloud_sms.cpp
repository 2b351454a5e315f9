#include "cloud_sms.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <memory>
#include <mutex>

#include <spdlog/spdlog.h>

#include "villagebot/crypto.hpp"
#include "villagebot/text.hpp"

namespace villagebot::adapters::cloud_sms {

namespace {

constexpr std::int64_t kLedgerKeepMs = 7LL * 24 * 3600 * 1000;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* chinese_kind(Priority priority) {
  switch (priority) {
    case Priority::emergency:
      return "应急";
    case Priority::reply:
      return "回复";
    case Priority::notice:
      return "通知";
    case Priority::bulk:
      return "群发";
  }
  return "通知";
}

}  // namespace

std::string kind_of(Priority priority) {
  switch (priority) {
    case Priority::emergency:
      return "emergency";
    case Priority::reply:
      return "reply";
    case Priority::notice:
      return "notice";
    case Priority::bulk:
      return "bulk";
  }
  return "notice";
}

void Templates::configure(ConfigSection& config, bool positional) {
  by_kind_.clear();
  for (auto& t : config.tables("templates")) {
    SmsTemplate tpl;
    tpl.kind = t->require_string("kind");
    tpl.code = t->require_string("code");
    if (positional) {
      const auto position = t->integer_or("param", 1, 1, 16);
      tpl.param = std::to_string(position);
      if (auto all = t->strings("params")) {
        tpl.params = *all;
        if (tpl.params.size() < static_cast<std::size_t>(position))
          t->error("params", "has fewer entries than the text's position `param`");
      } else {
        tpl.params.assign(static_cast<std::size_t>(position), "");
      }
    } else {
      tpl.param = t->string_or("param", "content");
      if (tpl.param.empty()) t->error("param", "names the template variable that carries the text");
    }
    tpl.max_chars = static_cast<std::size_t>(t->integer_or("max_chars", 0, 0, 10000));
    if (tpl.max_chars != 0 && tpl.max_chars < 8)
      t->error("max_chars", "must leave room for the (1/9) label: 8 or more, or 0 for no limit");
    static const std::vector<std::string> kKinds{"emergency", "reply", "notice", "bulk", "default"};
    if (!tpl.kind.empty() && std::find(kKinds.begin(), kKinds.end(), tpl.kind) == kKinds.end())
      t->error("kind", "must be emergency, reply, notice, bulk or default");
    else if (by_kind_.contains(tpl.kind))
      t->error("kind", "has a template already: one template per kind");
    by_kind_[tpl.kind] = std::move(tpl);
  }
}

const SmsTemplate* Templates::find(Priority priority) const {
  auto it = by_kind_.find(kind_of(priority));
  if (it == by_kind_.end()) it = by_kind_.find("default");
  return it == by_kind_.end() ? nullptr : &it->second;
}

std::string refusal(Priority priority) {
  const std::string kind = kind_of(priority);
  return std::string("没有适用于「") + chinese_kind(priority) +
         "」类消息的短信模板：短信只能按审核通过的模板发送，请在该适配器的 [[adapters.templates]] 中配置 kind = \"" +
         kind + "\" 或 \"default\" 的模板。 / no approved SMS template for " + kind +
         " messages: carriers deliver only approved templates; add a [[adapters.templates]] entry with kind = \"" +
         kind + "\" or \"default\" to this adapter.";
}

std::vector<std::string> pieces(std::string_view text, std::size_t max_chars, std::size_t max_parts, bool* cut) {
  if (cut != nullptr) *cut = false;
  const std::u32string all = text::to_u32(text);
  if (max_chars == 0 || all.size() <= max_chars) return {std::string(text)};
  if (max_parts <= 1) {
    // One SMS at most: no label (there is no second part to order), the text cut with ….
    std::u32string body = all.substr(0, max_chars);
    body.back() = U'…';
    if (cut != nullptr) *cut = true;
    return {text::to_utf8(body)};
  }
  // The label "(i/n) " takes room in each piece: find the smallest n whose pieces hold the text.
  auto label = [](std::size_t i, std::size_t n) { return "(" + std::to_string(i) + "/" + std::to_string(n) + ")"; };
  std::size_t total = 2;
  for (;; ++total) {
    const std::size_t room = max_chars > label(total, total).size() ? max_chars - label(total, total).size() : 1;
    if (room * total >= all.size() || total >= max_parts) break;
  }
  const std::size_t room = max_chars > label(total, total).size() ? max_chars - label(total, total).size() : 1;
  std::vector<std::string> out;
  std::size_t at = 0;
  for (std::size_t i = 1; i <= total && at < all.size(); ++i) {
    std::u32string body = all.substr(at, room);
    at += body.size();
    if (i == total && at < all.size()) {
      body.back() = U'…';
      if (cut != nullptr) *cut = true;
    }
    out.push_back(label(i, total) + text::to_utf8(body));
  }
  return out;
}

std::string national_or_international(std::string_view address) {
  const auto e164 = text::normalise_phone(address);
  const std::string phone = e164 ? *e164 : std::string(address);
  if (phone.starts_with("+86")) return phone.substr(3);
  if (phone.starts_with("+")) return phone.substr(1);
  return phone;
}

bool token_acceptable(std::string_view token) {
  if (token.size() < 16 || token.size() > 128) return false;
  return token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ==
         std::string_view::npos;
}

bool token_valid(const std::string& configured, const HttpRequest& request) {
  if (configured.empty()) return false;
  std::string given = request.path_param("token");
  if (given.empty()) given = request.query_param("token");
  return !given.empty() && crypto::constant_time_equal(configured, given);
}

std::string iso8601_utc(std::int64_t unix_s) {
  const std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string uuid4() {
  std::string h = crypto::random_hex(16);
  h[12] = '4';                                                  // version 4
  h[16] = "89ab"[std::stoi(h.substr(16, 1), nullptr, 16) & 3];  // RFC 4122 variant
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

void PartLedger::start(Storage& storage, const std::string& module) {
  // The table name is the adapter type's constant, never input.
  storage.migrate(module, {{1, "CREATE TABLE IF NOT EXISTS " + table_ +
                                   " (adapter_id TEXT NOT NULL, message_key TEXT NOT NULL, part INTEGER NOT NULL, "
                                   "provider_id TEXT NOT NULL, created_at_ms INTEGER NOT NULL, "
                                   "PRIMARY KEY (adapter_id, message_key, part));"}});
  const std::int64_t before = now_ms() - kLedgerKeepMs;
  storage.write([&](Session& s) { s.execute("DELETE FROM " + table_ + " WHERE created_at_ms < ?", {before}); });
}

std::map<std::size_t, std::string> PartLedger::sent(Storage& storage, const std::string& adapter_id,
                                                    const std::string& key) {
  std::map<std::size_t, std::string> out;
  storage.read_sync([&](Session& s) {
    for (const auto& r :
         s.query("SELECT part, provider_id FROM " + table_ + " WHERE adapter_id = ? AND message_key = ?",
                 {adapter_id, key}))
      out[static_cast<std::size_t>(r.integer(0))] = r.text(1);
  });
  return out;
}

void PartLedger::record(Storage& storage, const std::string& adapter_id, const std::string& key, std::size_t part,
                        const std::string& provider_id) {
  storage.write([&](Session& s) {
    s.execute("INSERT OR REPLACE INTO " + table_ +
                  " (adapter_id, message_key, part, provider_id, created_at_ms) VALUES (?, ?, ?, ?, ?)",
              {adapter_id, key, static_cast<std::int64_t>(part), provider_id, now_ms()});
  });
}

SendResult send_pieces(AdapterContext& context, PartLedger& ledger, const OutboundMessage& message,
                       const SmsTemplate& tpl, std::size_t max_parts, const SendPiece& send_piece) {
  bool cut = false;
  const auto parts = pieces(message.text, tpl.max_chars, max_parts, &cut);
  if (cut)
    context.logger().warn("a {}-character text to {} is longer than {} SMS of {} characters: the last one is cut",
                          text::length_u32(message.text), text::mask_phone(message.address), max_parts, tpl.max_chars);
  if (parts.size() == 1) return send_piece(parts[0], 1, 1);
  // Without a key there is nothing to remember parts by: the core always gives one, a test might not.
  const std::string key = message.idempotency_key;
  std::map<std::size_t, std::string> done;
  try {
    if (!key.empty()) done = ledger.sent(context.storage(), context.id(), key);
  } catch (const std::exception& e) {
    return SendResult::retryable(std::string("could not read the parts already sent: ") + e.what());
  }
  std::vector<std::string> ids;
  for (std::size_t i = 1; i <= parts.size(); ++i) {
    if (auto it = done.find(i); it != done.end()) {
      ids.push_back(it->second);
      continue;
    }
    SendResult r = send_piece(parts[i - 1], i, parts.size());
    if (r.status != SendResult::Status::sent) {
      if (i > 1) r.error = "part " + std::to_string(i) + "/" + std::to_string(parts.size()) + ": " + r.error;
      return r;
    }
    ids.push_back(r.provider_id);
    try {
      if (!key.empty()) ledger.record(context.storage(), context.id(), key, i, r.provider_id);
    } catch (const std::exception& e) {
      // The part went out; a retry would send it again, which beats losing the rest.
      context.logger().error("could not record part {} of a message: {}", i, e.what());
    }
  }
  return SendResult::ok_parts(std::move(ids));
}

void submit_batch(AdapterContext& context, std::vector<InboundMessage> messages, const Responder& respond,
                  HttpResponse ok, HttpResponse retry) {
  if (messages.empty()) return respond(ok);
  struct Batch {
    std::mutex mutex;
    std::size_t left = 0;
    bool failed = false;
    std::string error;
  };
  auto batch = std::make_shared<Batch>();
  batch->left = messages.size();
  auto shared_ok = std::make_shared<HttpResponse>(std::move(ok));
  auto shared_retry = std::make_shared<HttpResponse>(std::move(retry));
  for (auto& m : messages) {
    const InboundMessage kept = m;
    context.submit(std::move(m), [&context, kept, batch, respond, shared_ok, shared_retry](const SubmitResult& result) {
      switch (result.status) {
        case SubmitResult::Status::processed:
        case SubmitResult::Status::duplicate:
        case SubmitResult::Status::rate_limited:
          context.reply(kept, result.replies);
          break;
        case SubmitResult::Status::rejected:
          context.logger().warn("an SMS from {} was refused by the pipeline: {}", text::mask_phone(kept.sender),
                                result.error);
          break;
        case SubmitResult::Status::unavailable: {
          std::lock_guard lock(batch->mutex);
          batch->failed = true;
          batch->error = result.error;
          break;
        }
      }
      bool last = false;
      bool failed = false;
      {
        std::lock_guard lock(batch->mutex);
        last = --batch->left == 0;
        failed = batch->failed;
      }
      if (!last) return;
      if (failed)
        context.logger().warn("a pushed batch could not be stored ({}): the vendor will push it again", batch->error);
      respond(failed ? *shared_retry : *shared_ok);
    });
  }
}

void add_token_routes(AdapterContext& context, std::vector<Registration>& keep, const std::string& path,
                      const std::string& summary, std::size_t max_body_bytes, HttpHandler handler) {
  for (const std::string& p : {path, path + "/{token}"}) {
    RouteSpec spec;
    spec.method = "POST";
    spec.path = p;
    spec.public_route = true;
    spec.max_body_bytes = max_body_bytes;
    spec.summary = summary;
    spec.handler = handler;
    keep.push_back(context.routes().add(std::move(spec)));
  }
}

}  // namespace villagebot::adapters::cloud_sms
