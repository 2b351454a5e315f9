#include "points_api.hpp"
#include "plugin_support.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace villagebot::points {

namespace {

using nlohmann::json;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json entry_json(const Entry& e) {
  return {{"id", e.id},
          {"household_id", e.household_id},
          {"points", e.points},
          {"reason", e.reason},
          {"rule_code", e.rule_code},
          {"source", e.source},
          {"proposer", e.proposer},
          {"approver", e.approver},
          {"reverses", e.reverses == 0 ? json(nullptr) : json(e.reverses)},
          {"created_at_ms", e.created_at_ms},
          {"prev_hash", e.prev_hash},
          {"hash", e.hash}};
}

json proposal_json(const Proposal& p) {
  return {{"id", p.id},
          {"household_id", p.household_id},
          {"points", p.points},
          {"reason", p.reason},
          {"rule_code", p.rule_code},
          {"source", p.source},
          {"proposer", p.proposer},
          {"proposer_person_id", p.proposer_person_id},
          {"status", p.status},
          {"decided_by", p.decided_by},
          {"note", p.note},
          {"entry_id", p.entry_id == 0 ? json(nullptr) : json(p.entry_id)},
          {"created_at_ms", p.created_at_ms},
          {"decided_at_ms", p.decided_at_ms}};
}

json redemption_json(const Redemption& d) {
  return {{"voucher", d.voucher},     {"household_id", d.household_id}, {"item_code", d.item_code},
          {"item_name", d.item_name}, {"quantity", d.quantity},         {"points", d.points},
          {"status", d.status},       {"entry_id", d.entry_id}};
}

// Lists name the household (户号 and 户主) beside its id: an evaluator's token may not read the
// directory, and "户 #17" means nothing to the evaluation group.
class HouseholdNames {
 public:
  explicit HouseholdNames(Directory& directory) : directory_(directory) {}
  json operator()(json item) {
    const auto id = item.value("household_id", std::int64_t{0});
    auto it = cache_.find(id);
    if (it == cache_.end()) {
      const auto h = directory_.household(id);
      it = cache_.emplace(id, h ? std::make_pair(h->code, h->head_name) : std::make_pair(std::string(), std::string()))
               .first;
    }
    item["household"] = it->second.first;
    item["household_head"] = it->second.second;
    return item;
  }

 private:
  Directory& directory_;
  std::map<std::int64_t, std::pair<std::string, std::string>> cache_;
};

// "H001" or a numeric id.
std::optional<std::int64_t> household_of(Directory& directory, const std::string& given) {
  if (auto h = directory.household_by_code(given)) return h->id;
  if (!given.empty() && given.find_first_not_of("0123456789") == std::string::npos && given.size() < 12)
    if (auto h = directory.household(std::stoll(given))) return h->id;
  return std::nullopt;
}

HttpResponse refused(const LedgerError& e) {
  return HttpResponse::error(409, "refused", e.what());
}

const auto& cell = plugin_support::csv_cell;
using plugin_support::int_param;

constexpr const char* kEntrySchema =
    R"({"type":"object","properties":{"id":{"type":"integer"},"household_id":{"type":"integer"},"points":{"type":"integer"},"reason":{"type":"string"},"rule_code":{"type":"string"},"source":{"type":"string"},"proposer":{"type":"string"},"approver":{"type":"string"},"reverses":{"type":["integer","null"]},"created_at_ms":{"type":"integer"},"prev_hash":{"type":"string"},"hash":{"type":"string"}}})";
constexpr const char* kProposalRequest =
    R"({"type":"object","required":["household","points","reason"],"properties":{"household":{"type":"string","description":"户号 or household id"},"points":{"type":"integer","description":"+ award, - deduction"},"reason":{"type":"string"},"rule_code":{"type":"string"}}})";
constexpr const char* kDecisionRequest =
    R"({"type":"object","required":["approve"],"properties":{"approve":{"type":"boolean"},"note":{"type":"string"}}})";

}  // namespace

std::vector<Registration> register_points_api(RouteRegistry& routes, PointsApiDeps d) {
  std::vector<Registration> regs;
  auto add = [&](RouteSpec spec) {
    spec.tag = "points";
    regs.push_back(routes.add(std::move(spec)));
  };
  const std::vector<std::string> proposers{"cadre", "evaluator"};

  RouteSpec balance;
  balance.method = "GET";
  balance.path = "balances/{household}";
  balance.summary = "A household's points: balance, rank (ties equal), change this month";
  balance.response_schema =
      R"({"type":"object","properties":{"household_id":{"type":"integer"},"balance":{"type":"integer"},"rank":{"type":"integer"},"this_month":{"type":"integer"}}})";
  balance.handler = [d](const HttpRequest& req, const Responder& respond) {
    const auto h = household_of(d.directory, req.path_param("household"));
    if (!h) return respond(HttpResponse::error(404, "not_found", "no household " + req.path_param("household")));
    const auto b = d.ledger.balance(*h, now_ms());
    respond(HttpResponse::json(
        200,
        {{"household_id", b.household_id}, {"balance", b.balance}, {"rank", b.rank}, {"this_month", b.this_month}}));
  };
  add(std::move(balance));

  RouteSpec ledger;
  ledger.method = "GET";
  ledger.path = "ledger";
  ledger.summary = "Ledger entries in chain order, with their hashes (paged by id)";
  ledger.query_params = {{"household", "户号 or id: only this household"},
                         {"after", "entries with a larger id", "integer"},
                         {"limit", "at most this many (1-1000, default 100)", "integer"}};
  ledger.response_schema = std::string(R"({"type":"object","properties":{"items":{"type":"array","items":)") +
                           kEntrySchema + R"(},"next_after":{"type":["integer","null"]}}})";
  ledger.handler = [d](const HttpRequest& req, const Responder& respond) {
    std::int64_t household = 0;
    if (!req.query_param("household").empty()) {
      const auto h = household_of(d.directory, req.query_param("household"));
      if (!h) return respond(HttpResponse::error(404, "not_found", "no household " + req.query_param("household")));
      household = *h;
    }
    const auto limit = int_param(req, "limit", 100, 1, 1000);
    const auto page = d.ledger.page(household, int_param(req, "after", 0, 0, INT64_MAX), static_cast<int>(limit));
    json items = json::array();
    HouseholdNames named(d.directory);
    for (const auto& e : page) items.push_back(named(entry_json(e)));
    respond(HttpResponse::json(
        200, {{"items", items},
              {"next_after", static_cast<std::int64_t>(page.size()) == limit ? json(page.back().id) : json(nullptr)}}));
  };
  add(std::move(ledger));

  RouteSpec verify;
  verify.method = "GET";
  verify.path = "verify";
  verify.summary = "Check the ledger's hash chain and balances; names the first broken entry";
  verify.response_schema =
      R"({"type":"object","properties":{"ok":{"type":"boolean"},"entries":{"type":"integer"},"head_hash":{"type":"string"},"first_bad_id":{"type":"integer"},"problem":{"type":"string"},"seconds":{"type":"number"}}})";
  verify.handler = [d](const HttpRequest&, const Responder& respond) {
    const auto v = d.ledger.verify();
    respond(HttpResponse::json(200, {{"ok", v.ok},
                                     {"entries", v.entries},
                                     {"head_hash", v.head_hash},
                                     {"first_bad_id", v.first_bad_id},
                                     {"problem", v.problem},
                                     {"seconds", v.seconds}}));
  };
  add(std::move(verify));

  RouteSpec top;
  top.method = "GET";
  top.path = "leaderboard";
  top.summary = "Top households (红榜): this month's change or all time, ties ranked equal";
  top.query_params = {{"period", "month or all (default all)"}, {"limit", "1-100, default 10", "integer"}};
  top.handler = [d](const HttpRequest& req, const Responder& respond) {
    const bool month = req.query_param("period") == "month";
    json items = json::array();
    for (const auto& st :
         d.ledger.leaderboard(month, static_cast<int>(int_param(req, "limit", 10, 1, 100)), now_ms())) {
      const auto h = d.directory.household(st.household_id);
      items.push_back({{"rank", st.rank},
                       {"household_id", st.household_id},
                       {"household", h ? h->code : ""},
                       {"head", h ? h->head_name : ""},
                       {"points", st.points}});
    }
    respond(HttpResponse::json(200, {{"period", month ? "month" : "all"}, {"items", items}}));
  };
  add(std::move(top));

  RouteSpec rules;
  rules.method = "GET";
  rules.path = "rules";
  rules.summary = "The rules catalogue (积分细则): code, description, points, monthly cap";
  rules.handler = [d](const HttpRequest&, const Responder& respond) {
    json items = json::array();
    for (const auto& r : d.proposals.rules())
      items.push_back({{"code", r.code},
                       {"description", r.description},
                       {"points", r.points},
                       {"monthly_cap", r.monthly_cap},
                       {"auto_approve", r.auto_approve}});
    respond(HttpResponse::json(200, {{"items", items}}));
  };
  add(std::move(rules));

  RouteSpec pending;
  pending.method = "GET";
  pending.path = "proposals";
  pending.summary = "Proposals waiting for the evaluation group";
  pending.handler = [d](const HttpRequest&, const Responder& respond) {
    json items = json::array();
    HouseholdNames named(d.directory);
    for (const auto& p : d.proposals.pending(200)) items.push_back(named(proposal_json(p)));
    respond(HttpResponse::json(200, {{"items", items}}));
  };
  add(std::move(pending));

  RouteSpec propose;
  propose.method = "POST";
  propose.path = "proposals";
  propose.roles = proposers;
  propose.summary = "Propose an award or a deduction (pending until an evaluator decides)";
  propose.request_schema = kProposalRequest;
  propose.success_status = 201;
  propose.handler = [d](const HttpRequest& req, const Responder& respond) {
    const auto body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("household") || !body["household"].is_string() ||
        !body.contains("points") || !body["points"].is_number_integer() || !body.contains("reason") ||
        !body["reason"].is_string() || (body.contains("rule_code") && !body["rule_code"].is_string()))
      return respond(HttpResponse::error(
          400, "bad_request", R"(expected {"household": "H001", "points": 5, "reason": "...", "rule_code"?})"));
    const auto h = household_of(d.directory, body["household"].get<std::string>());
    if (!h) return respond(HttpResponse::error(404, "not_found", "no household " + body["household"].dump()));
    ProposalRequest r;
    r.household_id = *h;
    r.points = body["points"].get<std::int64_t>();
    r.reason = body["reason"].get<std::string>();
    r.rule_code = body.value("rule_code", "");
    r.source = "api";
    r.proposer_person_id = req.principal_person_id;
    r.proposer = req.principal;
    r.idempotency_key = req.header("idempotency-key");
    try {
      respond(HttpResponse::json(201, proposal_json(d.proposals.propose(r))));
    } catch (const LedgerError& e) {
      respond(HttpResponse::error(422, "invalid", e.what()));
    }
  };
  add(std::move(propose));

  RouteSpec decide;
  decide.method = "POST";
  decide.path = "proposals/{id}/decision";
  decide.roles = {"evaluator"};
  decide.summary = "Approve (the entry is appended) or reject a proposal; never one's own";
  decide.request_schema = kDecisionRequest;
  decide.handler = [d](const HttpRequest& req, const Responder& respond) {
    const auto body = json::parse(req.body, nullptr, false);
    const std::string id = req.path_param("id");
    if (!body.is_object() || !body.contains("approve") || !body["approve"].is_boolean() || id.empty() ||
        id.size() > 12 || id.find_first_not_of("0123456789") != std::string::npos)
      return respond(HttpResponse::error(400, "bad_request", R"(expected {"approve": true|false, "note"?})"));
    if (req.principal_person_id == 0)
      return respond(
          HttpResponse::error(403, "no_person",
                              "decisions need a token that acts for a person (token create --person), so that nobody "
                              "decides their own proposal"));
    try {
      const auto p = d.proposals.decide(std::stoll(id), req.principal_person_id, req.principal,
                                        body["approve"].get<bool>(), body.value("note", ""));
      respond(HttpResponse::json(200, proposal_json(p)));
    } catch (const LedgerError& e) {
      respond(refused(e));
    }
  };
  add(std::move(decide));

  RouteSpec items;
  items.method = "GET";
  items.path = "store/items";
  items.summary = "The points store (积分超市): code, name, price in points, stock";
  items.handler = [d](const HttpRequest&, const Responder& respond) {
    json out = json::array();
    for (const auto& i : d.store.items())
      out.push_back({{"code", i.code}, {"name", i.name}, {"price", i.price}, {"stock", i.stock}});
    respond(HttpResponse::json(200, {{"items", out}}));
  };
  add(std::move(items));

  for (const bool fulfil : {true, false}) {
    RouteSpec spec;
    spec.method = "POST";
    spec.path = std::string("store/redemptions/{voucher}/") + (fulfil ? "fulfil" : "cancel");
    spec.roles = {"cadre"};
    spec.summary = fulfil ? "The goods were handed over" : "Cancel a redemption: the points and the stock go back";
    spec.handler = [d, fulfil](const HttpRequest& req, const Responder& respond) {
      try {
        const auto v = req.path_param("voucher");
        const auto r = fulfil ? d.store.fulfil(v, req.principal) : d.store.cancel(v, req.principal);
        respond(HttpResponse::json(200, redemption_json(r)));
      } catch (const LedgerError& e) {
        respond(refused(e));
      }
    };
    add(std::move(spec));
  }

  RouteSpec redemptions;
  redemptions.method = "GET";
  redemptions.path = "store/redemptions";
  redemptions.summary = "Redemptions, newest first: voucher, household, item, quantity, points, status";
  redemptions.query_params = {{"status", "reserved, fulfilled or cancelled (default: any)"},
                              {"limit", "1-1000, default 100", "integer"}};
  redemptions.handler = [d](const HttpRequest& req, const Responder& respond) {
    const std::string status = req.query_param("status");
    if (!status.empty() && status != "reserved" && status != "fulfilled" && status != "cancelled")
      return respond(HttpResponse::error(400, "bad_request", "status is reserved, fulfilled or cancelled"));
    json out = json::array();
    HouseholdNames named(d.directory);
    for (const auto& r : d.store.list(status, static_cast<int>(int_param(req, "limit", 100, 1, 1000))))
      out.push_back(named(redemption_json(r)));
    respond(HttpResponse::json(200, {{"items", out}}));
  };
  add(std::move(redemptions));

  RouteSpec ledger_csv;
  ledger_csv.method = "GET";
  ledger_csv.path = "export/ledger.csv";
  ledger_csv.summary = "The whole ledger as CSV with every hash, for the supervision committee (村务监督委员会)";
  ledger_csv.response_content_type = "text/csv; charset=utf-8";
  ledger_csv.handler = [d](const HttpRequest&, const Responder& respond) {
    std::string csv = "\xEF\xBB\xBF序号,户号,户主,分值,原因,细则,来源,提出人,审核人,冲正,时间(ms),前一哈希,哈希\r\n";
    for (std::int64_t after = 0;;) {
      const auto page = d.ledger.page(0, after, 5000);
      for (const auto& e : page) {
        const auto h = d.directory.household(e.household_id);
        csv += std::to_string(e.id) + "," + cell(h ? h->code : std::to_string(e.household_id)) + "," +
               cell(h ? h->head_name : "") + "," + std::to_string(e.points) + "," + cell(e.reason) + "," +
               cell(e.rule_code) + "," + cell(e.source) + "," + cell(e.proposer) + "," + cell(e.approver) + "," +
               (e.reverses > 0 ? std::to_string(e.reverses) : "") + "," + std::to_string(e.created_at_ms) + "," +
               e.prev_hash + "," + e.hash + "\r\n";
      }
      if (page.size() < 5000) break;
      after = page.back().id;
    }
    auto res = HttpResponse::text(200, std::move(csv), "text/csv; charset=utf-8");
    res.headers.emplace_back("Content-Disposition", "attachment; filename=\"ledger.csv\"");
    respond(std::move(res));
  };
  add(std::move(ledger_csv));

  RouteSpec eligible;
  eligible.method = "GET";
  eligible.path = "export/eligibility.csv";
  eligible.summary = "以奖代补: households at or above the threshold, as CSV (UTF-8 with BOM)";
  eligible.query_params = {{"threshold", "points (default from config)", "integer"}};
  eligible.response_content_type = "text/csv; charset=utf-8";
  eligible.handler = [d](const HttpRequest& req, const Responder& respond) {
    const auto threshold = int_param(req, "threshold", d.eligibility_threshold, 0, INT64_MAX);
    std::string csv = "\xEF\xBB\xBF户号,户主,积分\r\n";
    for (const auto& st : d.ledger.at_least(threshold)) {
      const auto h = d.directory.household(st.household_id);
      csv += cell(h ? h->code : std::to_string(st.household_id)) + "," + cell(h ? h->head_name : "") + "," +
             std::to_string(st.points) + "\r\n";
    }
    auto res = HttpResponse::text(200, std::move(csv), "text/csv; charset=utf-8");
    res.headers.emplace_back("Content-Disposition", "attachment; filename=\"eligibility.csv\"");
    respond(std::move(res));
  };
  add(std::move(eligible));
  return regs;
}

}  // namespace villagebot::points
