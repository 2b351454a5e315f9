#include "store.hpp"

#include <chrono>
#include <random>

namespace villagebot::points {

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<Redemption> find_in(Session& s, const std::string& voucher) {
  const auto rows = s.query(
      "SELECT r.id, r.voucher, r.household_id, r.person_id, r.item_code, COALESCE(i.name, r.item_code), r.quantity, "
      "r.points, r.status, r.entry_id FROM points_redemptions r LEFT JOIN points_store_items i ON i.code = "
      "r.item_code WHERE r.voucher = ?",
      {voucher});
  if (rows.empty()) return std::nullopt;
  const Row& r = rows.front();
  Redemption d;
  d.id = r.integer(0);
  d.voucher = r.text(1);
  d.household_id = r.integer(2);
  d.person_id = r.integer(3);
  d.item_code = r.text(4);
  d.item_name = r.text(5);
  d.quantity = r.integer(6);
  d.points = r.integer(7);
  d.status = r.text(8);
  d.entry_id = r.integer(9);
  return d;
}

std::int64_t balance_in(Session& s, std::int64_t household_id) {
  const auto rows = s.query("SELECT balance FROM points_balances WHERE household_id = ?", {household_id});
  return rows.empty() ? 0 : rows.front().integer(0);
}

}  // namespace

Store::Store(Storage& storage) : storage_(storage) {}

void Store::load_catalogue(const std::vector<StoreItem>& items) {
  const auto now = now_ms();
  storage_.write_sync([&](Session& s) {
    for (const auto& i : items)
      s.execute(
          "INSERT INTO points_store_items (code, name, price, stock, updated_at_ms) VALUES (?, ?, ?, ?, ?) "
          "ON CONFLICT(code) DO UPDATE SET name = excluded.name, price = excluded.price, "
          "updated_at_ms = excluded.updated_at_ms",
          {i.code, i.name, i.price, i.stock, now});
  });
}

std::vector<StoreItem> Store::items() {
  return storage_.read([](Session& s) {
    std::vector<StoreItem> out;
    for (const auto& r : s.query("SELECT code, name, price, stock FROM points_store_items ORDER BY code"))
      out.push_back(StoreItem{r.text(0), r.text(1), r.integer(2), r.integer(3)});
    return out;
  });
}

void Store::restock(const std::string& code, std::int64_t add) {
  storage_.write_sync([&](Session& s) {
    if (s.execute("UPDATE points_store_items SET stock = stock + ?, updated_at_ms = ? WHERE code = ? AND "
                  "stock + ? >= 0",
                  {add, now_ms(), code, add}) == 0)
      throw LedgerError("没有商品 " + code + " 或库存不能为负 / no item " + code + ", or the stock would be negative");
  });
}

Redemption Store::redeem(std::int64_t household_id, std::int64_t person_id, const std::string& item_code,
                         std::int64_t quantity) {
  if (household_id <= 0) throw LedgerError("您的号码还没有登记到户 / not registered to a household");
  if (quantity < 1 || quantity > 99) throw LedgerError("数量须在 1 到 99 之间 / the quantity must be from 1 to 99");
  Redemption out;
  const auto now = now_ms();
  static thread_local std::mt19937 random{std::random_device{}()};
  const int suffix = std::uniform_int_distribution<int>(1000, 9999)(random);
  storage_.write_sync([&](Session& s) {
    const auto item = s.query("SELECT code, name, price, stock FROM points_store_items WHERE code = ?", {item_code});
    if (item.empty())
      throw LedgerError("积分超市没有编号为「" + item_code + "」的商品，发送「积分超市」查看 / no item " + item_code);
    const std::string name = item.front().text(1);
    const std::int64_t cost = item.front().integer(2) * quantity;
    const std::int64_t stock = item.front().integer(3);
    if (stock < quantity)
      throw LedgerError("库存不足：" + name + "仅剩 " + std::to_string(stock) + " 件 / only " + std::to_string(stock) +
                        " left");
    const std::int64_t balance = balance_in(s, household_id);
    if (balance < cost)
      throw LedgerError("积分不足：兑换需要 " + std::to_string(cost) + " 分，本户现有 " + std::to_string(balance) +
                        " 分 / not enough points: " + std::to_string(cost) + " needed, " + std::to_string(balance) +
                        " available");
    s.execute("UPDATE points_store_items SET stock = stock - ?, updated_at_ms = ? WHERE code = ?",
              {quantity, now, item_code});
    const std::int64_t id = s.query("SELECT COALESCE(MAX(id), 0) + 1 FROM points_redemptions").front().integer(0);
    const std::string voucher = "DH" + std::to_string(id) + "-" + std::to_string(suffix);
    Posting p;
    p.household_id = household_id;
    p.points = -cost;
    p.reason = "兑换" + name + " ×" + std::to_string(quantity) + "（凭证 " + voucher + "）";
    p.source = "store:" + voucher;
    p.proposer = "person:" + std::to_string(person_id);
    p.approver = "store";
    p.idempotency_key = "store:" + voucher;
    const auto entry = Ledger::append(s, p, now);
    s.execute(
        "INSERT INTO points_redemptions (id, voucher, household_id, person_id, item_code, quantity, points, entry_id, "
        "created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {id, voucher, household_id, person_id, item_code, quantity, cost, entry.id, now});
    out = *find_in(s, voucher);
    out.balance_after = balance - cost;
  });
  return out;
}

Redemption Store::decide(const std::string& voucher, const std::string& by, bool fulfil) {
  Redemption out;
  const auto now = now_ms();
  storage_.write_sync([&](Session& s) {
    auto d = find_in(s, voucher);
    if (!d) throw LedgerError("没有凭证号 " + voucher + " / no voucher " + voucher);
    if (d->status != "reserved")
      throw LedgerError("凭证 " + voucher + (d->status == "fulfilled" ? " 已发放" : " 已取消") + " / voucher " +
                        voucher + " is already " + d->status);
    std::int64_t reversal = 0;
    if (!fulfil) {
      Posting p;
      p.household_id = d->household_id;
      p.points = d->points;
      p.reason = "取消兑换" + d->item_name + "（凭证 " + voucher + "），积分退回";
      p.source = "store:" + voucher;
      p.proposer = by;
      p.approver = by;
      p.reverses = d->entry_id;
      reversal = Ledger::append(s, p, now).id;
      s.execute("UPDATE points_store_items SET stock = stock + ?, updated_at_ms = ? WHERE code = ?",
                {d->quantity, now, d->item_code});
    }
    s.execute(
        "UPDATE points_redemptions SET status = ?, decided_by = ?, decided_at_ms = ?, reversal_entry_id = ? "
        "WHERE id = ?",
        {std::string(fulfil ? "fulfilled" : "cancelled"), by, now, reversal > 0 ? Value{reversal} : Value{nullptr},
         d->id});
    out = *find_in(s, voucher);
    out.balance_after = balance_in(s, d->household_id);
  });
  return out;
}

Redemption Store::fulfil(const std::string& voucher, const std::string& by) {
  return decide(voucher, by, true);
}

Redemption Store::cancel(const std::string& voucher, const std::string& by) {
  return decide(voucher, by, false);
}

std::vector<Redemption> Store::list(const std::string& status, int limit) {
  return storage_.read([&](Session& s) {
    std::vector<Redemption> out;
    for (const auto& r : s.query("SELECT voucher FROM points_redemptions WHERE ? = '' OR status = ? ORDER BY id DESC "
                                 "LIMIT ?",
                                 {status, status, static_cast<std::int64_t>(limit)}))
      if (auto d = find_in(s, r.text(0))) out.push_back(std::move(*d));
    return out;
  });
}

std::optional<Redemption> Store::find(const std::string& voucher) {
  return storage_.read([&](Session& s) { return find_in(s, voucher); });
}

}  // namespace villagebot::points
