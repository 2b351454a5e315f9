// The points plugin (积分): villagers' commands over the ledger, and the
// `villagebot points ...` command line. The ledger itself is points_service.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "plugin_support.hpp"
#include "points_api.hpp"
#include "points_service.hpp"
#include "proposals.hpp"
#include "store.hpp"
#include "villagebot/abi.hpp"
#include "villagebot/text.hpp"

namespace villagebot::points {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using plugin_support::utc_offset_s;

std::string signed_points(std::int64_t p) {
  return (p > 0 ? "+" : "") + std::to_string(p);
}

// MM-DD in village time.
std::string month_day(std::int64_t ms, std::int64_t offset_s) {
  using namespace std::chrono;
  const std::chrono::year_month_day ymd{floor<days>(sys_seconds{seconds{ms / 1000 + offset_s}})};
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02u-%02u", static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

// From another plugin: points for a household under a catalogue rule (a
// completed shift ...). Appended at once when the rule approves itself,
// otherwise proposed; exactly once per key.
struct AwardEvent {
  static constexpr std::string_view kTopic = "points.award";
  std::int64_t household_id = 0;
  std::string rule_code;
  std::int64_t points = 0;  // 0: the rule's points
  std::string reason;       // "": the rule's description
  std::string source;
  std::string idempotency_key;
  NLOHMANN_DEFINE_TYPE_INTRUSIVE_WITH_DEFAULT(AwardEvent, household_id, rule_code, points, reason, source,
                                              idempotency_key)
};

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 6 && s.find_first_not_of("0123456789") == std::string::npos;
}

const Text kNoHousehold{"您的号码还没有登记到户，暂时没有户积分。请联系村委会。",
                        "Your number is not registered to a household yet, so there are no points to show."};

class PointsPlugin final : public Plugin {
 public:
  void configure(ConfigSection& config) override {
    top_n_ = static_cast<int>(config.integer_or("leaderboard_size", 10, 3, 50));
    eligibility_threshold_ = config.integer_or("eligibility_threshold", 100, 0, 10000000);  // 以奖代补
    // The monthly 红榜 notice: a cron expression in village time ("" turns it off).
    red_list_cron_ = config.string_or("red_list_cron", "0 9 1 * *");
    // [[plugins.points.rules]] code, description, points, monthly_cap, auto_approve: the 积分细则.
    rules_.clear();
    for (auto& t : config.tables("rules")) {
      Rule r;
      r.code = t->require_string("code");
      r.description = t->require_string("description");
      r.points = t->integer("points", -1000, 1000).value_or(0);
      r.monthly_cap = static_cast<int>(t->integer_or("monthly_cap", 0, 0, 1000));
      r.auto_approve = t->boolean_or("auto_approve", false);
      if (r.points == 0) t->error("points", "is required: a whole number from -1000 to 1000, not 0");
      for (const auto& other : rules_)
        if (!r.code.empty() && other.code == r.code) t->error("code", "'" + r.code + "' is used by another rule");
      rules_.push_back(std::move(r));
    }
    // [[plugins.points.items]] code, name, price, stock: the 积分超市 catalogue.
    items_.clear();
    for (auto& t : config.tables("items")) {
      StoreItem i;
      i.code = t->require_string("code");
      i.name = t->require_string("name");
      i.price = t->integer("price", 1, 1000000).value_or(0);
      i.stock = t->integer_or("stock", 0, 0, 1000000);
      if (i.price == 0) t->error("price", "is required: points from 1 to 1000000");
      for (const auto& other : items_)
        if (!i.code.empty() && other.code == i.code) t->error("code", "'" + i.code + "' is used by another item");
      items_.push_back(std::move(i));
    }
  }

  void start(PluginContext& ctx) override {
    ctx.storage().migrate("points", Ledger::migrations());
    offset_s_ = utc_offset_s(ctx.village().timezone);
    ledger_ = std::make_unique<Ledger>(ctx.storage(), offset_s_);
    directory_ = &ctx.directory();
    messenger_ = &ctx.messenger();
    proposals_ = std::make_unique<Proposals>(ctx.storage(), *ledger_, rules_);
    const std::vector<std::string> proposers{std::string(role::kCadre), std::string(role::kEvaluator)};
    regs_.push_back(
        ctx.commands().add({"points.propose",
                            {"加分", "扣分"},
                            {},
                            proposers,
                            {"加分/扣分 <户号或手机> <分值或细则编号> <原因> — 提交积分申请，待评议小组审核",
                             "加分/扣分 <household or phone> <points or rule> <reason> — propose points"},
                            [this](const CommandRequest& req) { return propose(req); }}));
    regs_.push_back(ctx.commands().add({"points.review",
                                        {"审核", "review"},
                                        {},
                                        {std::string(role::kEvaluator)},
                                        {"审核 <编号> 通过/驳回 [说明] — 评议积分申请（不能审核自己的）",
                                         "review <id> approve/reject [note] — decide a proposal (never your own)"},
                                        [this](const CommandRequest& req) { return review(req); }}));
    regs_.push_back(
        ctx.commands().add({"points.pending",
                            {"待审核", "pending"},
                            {},
                            {std::string(role::kCadre), std::string(role::kEvaluator), std::string(role::kSupervisor)},
                            {"待审核 — 等待评议的积分申请", "pending — proposals waiting for a decision"},
                            [this](const CommandRequest& req) { return pending(req); }}));
    store_ = std::make_unique<Store>(ctx.storage());
    store_->load_catalogue(items_);
    regs_.push_back(ctx.commands().add({"points.shop",
                                        {"积分超市", "商品", "shop"},
                                        {},
                                        {},
                                        {"积分超市 — 可兑换的商品、所需积分和库存", "shop — what points can buy"},
                                        [this](const CommandRequest& req) { return shop(req); }}));
    regs_.push_back(
        ctx.commands().add({"points.redeem",
                            {"兑换", "redeem"},
                            {},
                            {},
                            {"兑换 <商品编号> [数量] — 用本户积分兑换", "redeem <item> [qty] — spend points"},
                            [this](const CommandRequest& req) { return redeem(req); }}));
    regs_.push_back(
        ctx.commands().add({"points.fulfil",
                            {"发放", "fulfil"},
                            {},
                            {std::string(role::kCadre)},
                            {"发放 <凭证号> — 兑换的商品已交给村民", "fulfil <voucher> — goods handed over"},
                            [this](const CommandRequest& req) { return decide_voucher(req, true); }}));
    regs_.push_back(
        ctx.commands().add({"points.cancel_redemption",
                            {"取消兑换", "unredeem"},
                            {},
                            {std::string(role::kCadre)},
                            {"取消兑换 <凭证号> — 退回积分和库存", "unredeem <voucher> — points and stock back"},
                            [this](const CommandRequest& req) { return decide_voucher(req, false); }}));
    schedule_red_list(ctx);
    RouteSpec red_list;
    red_list.method = "GET";
    red_list.path = "red-list";
    red_list.tag = "points";
    red_list.summary = "The monthly 红榜 notice text: the previous month (what the job publishes) or the current one";
    red_list.query_params = {{"month", "previous (default) or current"}};
    red_list.handler = [this](const HttpRequest& req, const Responder& respond) {
      const auto now = now_ms();
      Month m = previous_month(now);
      if (req.query_param("month") == "current") {
        m.from = ledger_->month_start_ms(now);
        m.to = now + 1;
        m.name = month_name(m.from);
      }
      respond(HttpResponse::json(200, {{"month", m.name}, {"text", red_list_text(m)}}));
    };
    regs_.push_back(ctx.routes().add(std::move(red_list)));
    RouteSpec checkpoint;
    checkpoint.method = "POST";
    checkpoint.path = "checkpoint";
    checkpoint.tag = "points";
    checkpoint.roles = {std::string(role::kSupervisor)};
    checkpoint.summary = "Verify the ledger and publish its head hash as a checkpoint notice (村务监督委员会)";
    auto& events = ctx.events();
    checkpoint.handler = [this, &events](const HttpRequest&, const Responder& respond) {
      const auto v = ledger_->verify();
      if (!v.ok) return respond(HttpResponse::error(409, "ledger_broken", v.problem));
      const std::string text = "【积分台账校验】截至" + month_day(now_ms(), offset_s_) + "，积分台账共 " +
                               std::to_string(v.entries) + " 条记录，哈希链完整。链头哈希：" + v.head_hash +
                               "。如与此不符，说明台账被改动，请联系村务监督委员会。";
      events.publish("announcements.notice", {{"category", "两公开"},
                                              {"title", "积分台账校验"},
                                              {"body", text},
                                              {"audience", {{"everyone", true}}},
                                              {"source", "points"},
                                              {"idempotency_key", "points.checkpoint:" + v.head_hash}});
      respond(HttpResponse::json(200, {{"entries", v.entries}, {"head_hash", v.head_hash}, {"text", text}}));
    };
    regs_.push_back(ctx.routes().add(std::move(checkpoint)));
    for (auto& r : register_points_api(
             ctx.routes(), PointsApiDeps{*ledger_, *proposals_, *store_, ctx.directory(), eligibility_threshold_}))
      regs_.push_back(std::move(r));
    regs_.push_back(ctx.events().on<AwardEvent>([this](const AwardEvent& e) { on_award(e); }));
    regs_.push_back(
        ctx.commands().add({"points.balance",
                            {"积分", "查积分", "jf", "points"},
                            {},
                            {},
                            {"积分 — 查看本户积分、排名和本月变化", "points — your household's points and rank"},
                            [this](const CommandRequest& req) { return balance(req); }}));
    regs_.push_back(ctx.commands().add({"points.detail",
                                        {"积分明细", "mx"},
                                        {},
                                        {},
                                        {"积分明细 — 本户最近 10 条积分记录", "mx — your household's last 10 entries"},
                                        [this](const CommandRequest& req) { return detail(req); }}));
    regs_.push_back(
        ctx.commands().add({"points.top",
                            {"积分排行", "红榜", "top"},
                            {},
                            {},
                            {"红榜 — 积分前十户（本月和累计）", "top — the top households, this month and all time"},
                            [this](const CommandRequest& req) { return top(req); }}));
  }

  void stop() override { regs_.clear(); }

  std::optional<int> run_command_line(PluginCommandLine& cli) override {
    const std::string what = cli.args.empty() ? "" : cli.args.front();
    if (what != "verify" && what != "head") {
      cli.err << "usage: villagebot points verify --config FILE   check the ledger's hash chain\n"
                 "       villagebot points head --config FILE     the chain's head hash (for a checkpoint notice)\n";
      return 2;
    }
    cli.storage.migrate("points", Ledger::migrations());
    Ledger ledger(cli.storage, utc_offset_s(cli.village.timezone));
    const auto v = ledger.verify();
    if (what == "head" && v.ok) {
      cli.out << v.head_hash << "  " << v.entries << "\n";
      return 0;
    }
    if (v.ok) {
      cli.out << "OK: 积分台账 " << v.entries << " 条记录，哈希链完整，余额与明细一致。\n"
              << "OK: " << v.entries << " ledger entries, the hash chain is intact and every balance matches.\n"
              << "head " << v.head_hash << "\n"
              << "(" << v.seconds << " s)\n";
      return 0;
    }
    cli.out << "FAILED: " << v.problem << "\n";
    if (v.first_bad_id > 0) cli.out << "first broken entry: " << v.first_bad_id << "\n";
    cli.out << "checked " << v.entries << " entries before it\n";
    return 1;
  }

 private:
  [[nodiscard]] std::string household_name(std::int64_t id) const {
    const auto h = directory_->household(id);
    if (!h) return "#" + std::to_string(id);
    return (h->head_name.empty() ? h->code : h->head_name + "户") + "（" + h->code + "）";
  }

  // The month before the one containing now_ms: [from, to) in unix ms, and its name.
  struct Month {
    std::int64_t from = 0, to = 0;
    std::string name;  // 2026年11月
  };
  [[nodiscard]] Month previous_month(std::int64_t now) const {
    Month m;
    m.to = ledger_->month_start_ms(now);
    m.from = ledger_->month_start_ms(m.to - 1);
    m.name = month_name(m.from);
    return m;
  }
  [[nodiscard]] std::string month_name(std::int64_t ms) const {
    using namespace std::chrono;
    const year_month_day ymd{floor<days>(sys_seconds{seconds{ms / 1000 + offset_s_}})};
    return std::to_string(static_cast<int>(ymd.year())) + "年" + std::to_string(static_cast<unsigned>(ymd.month())) +
           "月";
  }

  // 红榜 of a month: its text (the notice) and the households on it.
  std::string red_list_text(const Month& m) {
    std::string text = "【红榜】" + m.name + "积分前" + std::to_string(top_n_) + "户：";
    const auto rows = ledger_->leaderboard_between(m.from, m.to, top_n_);
    if (rows.empty()) return text + "\n本月暂无加分记录。";
    for (const auto& st : rows)
      text += "\n" + std::to_string(st.rank) + ". " + household_name(st.household_id) + " +" +
              std::to_string(st.points) + " 分";
    return text + "\n感谢以上家庭为村里做出的贡献！";
  }

  // One recurring job, kept across restarts (its id in points_meta); a changed
  // expression replaces it.
  void schedule_red_list(PluginContext& ctx) {
    auto& scheduler = ctx.scheduler();
    auto& events = ctx.events();
    regs_.push_back(scheduler.handle("points.red_list", [this, &events](const nlohmann::json&) {
      const Month m = previous_month(now_ms());
      const std::string text = red_list_text(m);
      // The announcements plugin, when loaded, sends it as a notice (category 红榜).
      events.publish("announcements.notice", {{"category", "红榜"},
                                              {"title", m.name + "红榜"},
                                              {"body", text},
                                              {"audience", {{"everyone", true}}},
                                              {"source", "points"},
                                              {"idempotency_key", "points.red_list:" + m.name}});
    }));
    auto& storage = ctx.storage();
    const auto rows =
        storage.read([](Session& s) { return s.query("SELECT value FROM points_meta WHERE key = 'red_list_job'"); });
    const std::string stored = rows.empty() ? "" : rows.front().text(0);
    const auto bar = stored.find('|');
    const std::string stored_cron = bar == std::string::npos ? "" : stored.substr(bar + 1);
    if (!stored.empty() && stored_cron == red_list_cron_) return;
    if (bar != std::string::npos) scheduler.cancel(std::stoll(stored.substr(0, bar)));
    std::string value;
    if (!red_list_cron_.empty())
      value = std::to_string(scheduler.schedule_cron("points.red_list", red_list_cron_, nlohmann::json::object())) +
              "|" + red_list_cron_;
    storage.write_sync([&](Session& s) {
      s.execute(
          "INSERT INTO points_meta (key, value) VALUES ('red_list_job', ?) ON CONFLICT(key) DO UPDATE SET "
          "value = excluded.value",
          {value});
    });
  }

  static std::string zh_or_en(const CommandRequest& req, const std::string& both) {
    // LedgerError texts are "中文 / English".
    const auto slash = both.find(" / ");
    if (slash == std::string::npos) return both;
    return req.lang == Lang::en ? both.substr(slash + 3) : both.substr(0, slash);
  }

  // 加分/扣分 <户号或手机> <分值或细则编号> [原因]
  Replies propose(const CommandRequest& req) {
    const bool deduct = req.keyword == "扣分";
    if (req.args.size() < 2)
      return {Reply{req.lang == Lang::en ? "Usage: " + req.keyword + " <household or phone> <points or rule> <reason>"
                                         : "用法：" + req.keyword + " <户号或手机> <分值或细则编号> <原因>，例如：" +
                                               req.keyword + " H001 5 打扫文化广场"}};
    std::int64_t household_id = 0;
    if (auto h = directory_->household_by_code(req.args[0]))
      household_id = h->id;
    else if (auto phone = text::normalise_phone(req.args[0]))
      if (auto p = directory_->find_by_phone(*phone)) household_id = p->household_id;
    if (household_id == 0)
      return {Reply{req.lang == Lang::en ? "No household with the code or phone " + req.args[0]
                                         : "没有户号或手机为「" + req.args[0] + "」的户。"}};
    ProposalRequest r;
    r.household_id = household_id;
    r.source = "chat";
    r.proposer_person_id = req.sender.id;
    r.proposer = req.sender.name;
    // The message's own id: a message handled again after a crash (recovery runs what was accepted
    // but not marked done) finds its proposal instead of making a second one.
    if (!req.message.message_id.empty())
      r.idempotency_key = "chat:" + req.message.adapter_id + ":" + req.message.message_id;
    std::size_t reason_from = 2;
    if (all_digits(req.args[1])) {
      r.points = std::stoll(req.args[1]);
      if (r.points < 1 || r.points > 1000)
        return {Reply{req.lang == Lang::en ? "Points must be from 1 to 1000." : "分值须在 1 到 1000 之间。"}};
      if (deduct) r.points = -r.points;
      if (req.args.size() > 2 && proposals_->rule(req.args[2]) != nullptr) r.rule_code = req.args[reason_from++];
    } else if (const Rule* rule = proposals_->rule(req.args[1])) {
      r.rule_code = rule->code;
      r.points = rule->points;
      if ((rule->points < 0) != deduct)
        return {Reply{zh_or_en(req, "细则 " + rule->code + " 是" + (rule->points > 0 ? "加分" : "扣分") + "项，请用「" +
                                        (rule->points > 0 ? "加分" : "扣分") + "」 / rule " + rule->code +
                                        (rule->points > 0 ? " awards" : " deducts") + " points")}};
    } else {
      return {Reply{req.lang == Lang::en ? "The second word must be points (1–1000) or a rule code."
                                         : "第二项应是分值（1–1000）或积分细则编号。"}};
    }
    for (std::size_t i = reason_from; i < req.args.size(); ++i) r.reason += (r.reason.empty() ? "" : " ") + req.args[i];
    if (r.reason.empty() && !r.rule_code.empty()) r.reason = proposals_->rule(r.rule_code)->description;
    Proposal p;
    try {
      p = proposals_->propose(r);
    } catch (const LedgerError& e) {
      return {Reply{zh_or_en(req, e.what())}};
    }
    const std::string who = household_name(p.household_id);
    const std::string what = who + " " + signed_points(p.points) + " 分，原因：" + p.reason;
    for (const auto& evaluator : directory_->with_role(role::kEvaluator))
      if (evaluator.id != req.sender.id)
        messenger_->send_to_person(evaluator.id, "【积分待审核】第 " + std::to_string(p.id) + " 号：" + what + "（" +
                                                     p.proposer + " 提交）。回复「审核 " + std::to_string(p.id) +
                                                     " 通过」或「审核 " + std::to_string(p.id) + " 驳回 原因」。");
    if (req.lang == Lang::en)
      return {Reply{"Proposal #" + std::to_string(p.id) + ": " + who + " " + signed_points(p.points) + " points (" +
                    p.reason + "), waiting for the evaluation group."}};
    return {Reply{"已提交第 " + std::to_string(p.id) + " 号积分申请：" + what + "。等待积分评议小组审核。"}};
  }

  // 审核 <编号> 通过/驳回 [说明]
  Replies review(const CommandRequest& req) {
    const bool approve =
        req.args.size() >= 2 && (req.args[1] == "通过" || req.args[1] == "同意" || req.args[1] == "approve");
    const bool reject =
        req.args.size() >= 2 && (req.args[1] == "驳回" || req.args[1] == "不同意" || req.args[1] == "reject");
    if (req.args.size() < 2 || !all_digits(req.args[0]) || (!approve && !reject))
      return {Reply{req.lang == Lang::en ? "Usage: review <id> approve|reject [note]"
                                         : "用法：审核 <编号> 通过 或 审核 <编号> 驳回 <原因>"}};
    std::string note;
    for (std::size_t i = 2; i < req.args.size(); ++i) note += (note.empty() ? "" : " ") + req.args[i];
    Proposal p;
    try {
      p = proposals_->decide(std::stoll(req.args[0]), req.sender.id, req.sender.name, approve, note);
    } catch (const LedgerError& e) {
      return {Reply{zh_or_en(req, e.what())}};
    }
    const std::string who = household_name(p.household_id);
    const auto balance = ledger_->balance(p.household_id, now_ms()).balance;
    const std::string outcome = approve
                                    ? "已通过：" + signed_points(p.points) + " 分（" + p.reason + "），现有积分 " +
                                          std::to_string(balance) + " 分。"
                                    : "未通过（" + p.reason + "）" + (note.empty() ? "。" : "，说明：" + note + "。");
    std::vector<std::int64_t> told;
    auto tell = [&](std::int64_t person_id, const std::string& text) {
      if (person_id <= 0 || person_id == req.sender.id) return;
      if (std::find(told.begin(), told.end(), person_id) != told.end()) return;
      told.push_back(person_id);
      messenger_->send_to_person(person_id, text);
    };
    tell(p.proposer_person_id, "您提交的第 " + std::to_string(p.id) + " 号积分申请（" + who + "）" + outcome);
    for (const auto& member : directory_->household_members(p.household_id))
      tell(member.id, "【积分】您户的积分申请" + outcome);
    if (req.lang == Lang::en)
      return {Reply{"Proposal #" + std::to_string(p.id) + (approve ? " approved" : " rejected") + ": " + who + " " +
                    signed_points(p.points) + (approve ? ", balance now " + std::to_string(balance) : "")}};
    return {Reply{"第 " + std::to_string(p.id) + " 号申请" + (approve ? "已通过" : "已驳回") + "：" + who + " " +
                  signed_points(p.points) + " 分" + (approve ? "，现有积分 " + std::to_string(balance) + " 分" : "") +
                  "。已通知申请人和该户。"}};
  }

  Replies pending(const CommandRequest& req) {
    const auto list = proposals_->pending(10);
    if (list.empty()) return {Reply{req.lang == Lang::en ? "No proposals are waiting." : "没有待审核的积分申请。"}};
    std::string text = req.lang == Lang::en ? "Waiting for a decision:" : "待审核的积分申请：";
    for (const auto& p : list)
      text += "\n#" + std::to_string(p.id) + " " + household_name(p.household_id) + " " + signed_points(p.points) +
              " " + p.reason + "（" + p.proposer + "）";
    return {Reply{text}};
  }

  void on_award(const AwardEvent& e) {
    ProposalRequest r;
    r.household_id = e.household_id;
    r.rule_code = e.rule_code;
    const Rule* rule = proposals_->rule(e.rule_code);
    r.points = e.points != 0 ? e.points : (rule != nullptr ? rule->points : 0);
    r.reason = !e.reason.empty() ? e.reason : (rule != nullptr ? rule->description : "");
    r.source = e.source;
    r.proposer = e.source;
    r.idempotency_key = e.idempotency_key;
    proposals_->award(r);  // a LedgerError reaches the bus, which logs it
  }

  Replies shop(const CommandRequest& req) {
    const auto items = store_->items();
    if (items.empty()) return {Reply{req.lang == Lang::en ? "The points store is empty." : "积分超市暂时没有商品。"}};
    std::string text =
        req.lang == Lang::en ? "Points store (code, points, in stock):" : "积分超市（编号 商品 所需积分 库存）：";
    for (const auto& i : items)
      text += "\n" + i.code + " " + i.name + " " + std::to_string(i.price) + (req.lang == Lang::en ? " pts " : " 分 ") +
              (i.stock > 0 ? (req.lang == Lang::en ? "stock " : "库存 ") + std::to_string(i.stock)
                           : std::string(req.lang == Lang::en ? "sold out" : "已兑完"));
    text += req.lang == Lang::en ? "\nSend: redeem <code> [qty]" : "\n兑换请发送：兑换 <编号> [数量]";
    return {Reply{text}};
  }

  Replies redeem(const CommandRequest& req) {
    if (req.sender.household_id == 0) return {Reply{req.tr(kNoHousehold)}};
    if (req.args.empty() || req.args.size() > 2 || (req.args.size() == 2 && !all_digits(req.args[1])))
      return {Reply{req.lang == Lang::en ? "Usage: redeem <item code> [quantity]"
                                         : "用法：兑换 <商品编号> [数量]，例如：兑换 A1 2"}};
    const std::int64_t quantity = req.args.size() == 2 ? std::stoll(req.args[1]) : 1;
    Redemption d;
    try {
      d = store_->redeem(req.sender.household_id, req.sender.id, req.args[0], quantity);
    } catch (const LedgerError& e) {
      return {Reply{zh_or_en(req, e.what())}};
    }
    if (req.lang == Lang::en)
      return {Reply{"Redeemed " + d.item_name + " x" + std::to_string(d.quantity) + " for " + std::to_string(d.points) +
                    " points; " + std::to_string(d.balance_after) + " left. Voucher " + d.voucher +
                    ": collect it at the village committee."}};
    return {Reply{"兑换成功：" + d.item_name + " ×" + std::to_string(d.quantity) + "，扣 " + std::to_string(d.points) +
                  " 分，本户剩余 " + std::to_string(d.balance_after) + " 分。凭证号 " + d.voucher +
                  "，请凭此到村委会领取。"}};
  }

  Replies decide_voucher(const CommandRequest& req, bool fulfil) {
    if (req.args.size() != 1)
      return {
          Reply{req.lang == Lang::en ? "Usage: " + req.keyword + " <voucher>" : "用法：" + req.keyword + " <凭证号>"}};
    Redemption d;
    try {
      d = fulfil ? store_->fulfil(req.args[0], req.sender.name) : store_->cancel(req.args[0], req.sender.name);
    } catch (const LedgerError& e) {
      return {Reply{zh_or_en(req, e.what())}};
    }
    const std::string who = household_name(d.household_id);
    if (!fulfil && d.person_id > 0 && d.person_id != req.sender.id)
      messenger_->send_to_person(d.person_id, "【积分】您的兑换（凭证 " + d.voucher + "，" + d.item_name +
                                                  "）已取消，" + std::to_string(d.points) + " 分已退回，现有 " +
                                                  std::to_string(d.balance_after) + " 分。");
    if (req.lang == Lang::en)
      return {
          Reply{"Voucher " + d.voucher + (fulfil ? " fulfilled" : " cancelled, points returned") + " (" + who + ")"}};
    return {Reply{"凭证 " + d.voucher + (fulfil ? " 已发放" : " 已取消，积分和库存已退回") + "：" + who + " " +
                  d.item_name + " ×" + std::to_string(d.quantity) + "。"}};
  }

  Replies balance(const CommandRequest& req) {
    if (req.sender.household_id == 0) return {Reply{req.tr(kNoHousehold)}};
    const auto b = ledger_->balance(req.sender.household_id, now_ms());
    const std::string name = household_name(b.household_id);
    if (req.lang == Lang::en)
      return {Reply{"Household " + name + ": " + std::to_string(b.balance) + " points\nRank in the village: " +
                    std::to_string(b.rank) + "\nThis month: " + signed_points(b.this_month)}};
    return {Reply{name + " 积分：" + std::to_string(b.balance) + " 分\n全村排名：第 " + std::to_string(b.rank) +
                  " 名\n本月变化：" + signed_points(b.this_month) + " 分\n发送「积分明细」查看最近记录"}};
  }

  Replies detail(const CommandRequest& req) {
    if (req.sender.household_id == 0) return {Reply{req.tr(kNoHousehold)}};
    const auto entries = ledger_->recent(req.sender.household_id, 10);
    if (entries.empty()) return {Reply{req.lang == Lang::en ? "No points entries yet." : "本户还没有积分记录。"}};
    std::string text = req.lang == Lang::en ? "Last " + std::to_string(entries.size()) + " entries:"
                                            : "最近 " + std::to_string(entries.size()) + " 条积分记录：";
    for (const auto& e : entries) {
      text += "\n" + month_day(e.created_at_ms, offset_s_) + " " + signed_points(e.points) + " " + e.reason;
      if (e.reverses > 0) text += req.lang == Lang::en ? " (reversal)" : "（冲正）";
    }
    return {Reply{text}};
  }

  Replies top(const CommandRequest& req) {
    const auto now = now_ms();
    auto list = [&](bool month) {
      std::string text;
      const auto rows = ledger_->leaderboard(month, top_n_, now);
      if (rows.empty()) return std::string(req.lang == Lang::en ? "\n(none yet)" : "\n（暂无）");
      for (const auto& st : rows)
        text += "\n" + std::to_string(st.rank) + ". " + household_name(st.household_id) + " " +
                std::to_string(st.points) + (req.lang == Lang::en ? "" : " 分");
      return text;
    };
    if (req.lang == Lang::en) return {Reply{"Red list — this month:" + list(true) + "\nAll time:" + list(false)}};
    return {Reply{"【红榜】本月积分前" + std::to_string(top_n_) + "：" + list(true) + "\n累计积分前" +
                  std::to_string(top_n_) + "：" + list(false)}};
  }

  int top_n_ = 10;
  std::int64_t eligibility_threshold_ = 100;
  std::string red_list_cron_;
  std::int64_t offset_s_ = 8 * 3600;
  std::vector<Rule> rules_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<Proposals> proposals_;
  std::vector<StoreItem> items_;
  std::unique_ptr<Store> store_;
  Directory* directory_ = nullptr;
  Messenger* messenger_ = nullptr;
  std::vector<Registration> regs_;
};

}  // namespace
}  // namespace villagebot::points

VILLAGEBOT_PLUGIN(villagebot::points::PointsPlugin, "points", "0.1.0")
