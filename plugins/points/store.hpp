#pragma once
// The points store (积分超市). Redeeming debits the household's points in the
// ledger and takes the stock in one transaction on the single writer, so a
// balance never goes negative and the last item goes to exactly one household
// however many ask at once. A cadre fulfils the voucher when the goods are
// handed over, or cancels it: a reversing entry releases the points.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "points_service.hpp"

namespace villagebot::points {

struct StoreItem {
  std::string code;  // A1
  std::string name;  // 洗衣粉
  std::int64_t price = 0;
  std::int64_t stock = 0;
};

struct Redemption {
  std::int64_t id = 0;
  std::string voucher;  // DH<id>-<4 digits>
  std::int64_t household_id = 0;
  std::int64_t person_id = 0;
  std::string item_code;
  std::string item_name;
  std::int64_t quantity = 0;
  std::int64_t points = 0;  // what it cost
  std::string status;       // reserved, fulfilled, cancelled
  std::int64_t entry_id = 0;
  std::int64_t balance_after = 0;  // the household's balance right after the redemption
};

class Store {
 public:
  explicit Store(Storage& storage);

  // The catalogue from config: new items are added with their stock; known
  // ones get the configured name and price, and keep the stock they have.
  void load_catalogue(const std::vector<StoreItem>& items);
  [[nodiscard]] std::vector<StoreItem> items();
  void restock(const std::string& code, std::int64_t add);

  // Throws LedgerError (unknown item, quantity outside 1–99, not enough stock,
  // not enough points): then nothing changed.
  Redemption redeem(std::int64_t household_id, std::int64_t person_id, const std::string& item_code,
                    std::int64_t quantity);
  // reserved → fulfilled (goods handed over) or cancelled (points and stock back).
  Redemption fulfil(const std::string& voucher, const std::string& by);
  Redemption cancel(const std::string& voucher, const std::string& by);
  [[nodiscard]] std::optional<Redemption> find(const std::string& voucher);
  // Newest first; status "" = any.
  [[nodiscard]] std::vector<Redemption> list(const std::string& status, int limit);

 private:
  Redemption decide(const std::string& voucher, const std::string& by, bool fulfil);
  Storage& storage_;
};

}  // namespace villagebot::points
