// The points plugin (积分): villagers' commands over the ledger, and the
// `villagebot points ...` command line. The ledger itself is points_service.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "points_service.hpp"
#include "villagebot/abi.hpp"

namespace villagebot::points {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The village's offset from UTC: "+08:00" style, UTC, or (every zone of China) +8.
std::int64_t utc_offset_s(const std::string& zone) {
  if (zone == "UTC" || zone == "Etc/UTC") return 0;
  if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    const int h = (zone[1] - '0') * 10 + (zone[2] - '0');
    const int m = (zone[4] - '0') * 10 + (zone[5] - '0');
    const std::int64_t s = h * 3600 + m * 60;
    return zone[0] == '-' ? -s : s;
  }
  return 8 * 3600;
}

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

const Text kNoHousehold{"您的号码还没有登记到户，暂时没有户积分。请联系村委会。",
                        "Your number is not registered to a household yet, so there are no points to show."};

class PointsPlugin final : public Plugin {
 public:
  void configure(ConfigSection& config) override {
    top_n_ = static_cast<int>(config.integer_or("leaderboard_size", 10, 3, 50));
  }

  void start(PluginContext& ctx) override {
    ctx.storage().migrate("points", Ledger::migrations());
    offset_s_ = utc_offset_s(ctx.village().timezone);
    ledger_ = std::make_unique<Ledger>(ctx.storage(), offset_s_);
    directory_ = &ctx.directory();
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
  std::int64_t offset_s_ = 8 * 3600;
  std::unique_ptr<Ledger> ledger_;
  Directory* directory_ = nullptr;
  std::vector<Registration> regs_;
};

}  // namespace
}  // namespace villagebot::points

VILLAGEBOT_PLUGIN(villagebot::points::PointsPlugin, "points", "0.1.0")
