// The admin REST API of docs/API.md over real HTTP on loopback, tested against
// the document: tokens and roles, a cadre's scope, the supervisor's masked
// view, the append-only audit log, hostile text, audiences, CSV import and
// export, token management, the OpenAPI document and the body limit.
//
// The small village of the test kit (tests/kit/testkit.cpp):
//   H001 一组/东院  王大山 13800000001 villager, 王小红 13800000002 cadre answering for 一组
//   H002 二组       李四 13800000003 evaluator (en), central household H001
//   H003 二组       赵五 13800000004 commander + emergency_team, wecom wx-004, central household H001
//   H004 三组       钱七 13800000009 admin
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/http_client.hpp"
#include "http/route_table.hpp"
#include "runtime/runtime.hpp"
#include "runtime/tokens.hpp"
#include "testkit.hpp"
#include "villagebot/crypto.hpp"
#include "villagebot/directory.hpp"
#include "villagebot/storage.hpp"

namespace villagebot::testkit {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

using Ids = std::vector<std::int64_t>;

constexpr const char* kAdminName = "测试管理员";
constexpr const char* kBom = "\xEF\xBB\xBF";

struct Reply {
  int status = 0;
  std::string body;
  json doc;  // discarded when the body is not JSON
  std::vector<std::pair<std::string, std::string>> headers;
};

std::ostream& operator<<(std::ostream& os, const Reply& r) {
  return os << "HTTP " << r.status << " " << r.body.substr(0, 2000);
}

bool is_success(int status) {
  return status >= 200 && status < 300;
}

// A member of a JSON object, or null (never inserts, never throws).
json field(const json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? json() : *it;
}

std::int64_t id_of(const json& j) {
  const json id = field(j, "id");
  return id.is_number_integer() ? id.get<std::int64_t>() : -1;
}

json items_of(const Reply& r) {
  const json items = field(r.doc, "items");
  return items.is_array() ? items : json::array();
}

Ids ids_in(const json& items) {
  Ids out;
  for (const auto& item : items) out.push_back(id_of(item));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> strings_in(const json& array) {
  std::vector<std::string> out;
  if (!array.is_array()) return out;
  for (const auto& s : array)
    if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (std::isalnum(b) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0x0F]);
    }
  }
  return out;
}

// An error as docs/API.md describes it: the status and {"error":{"code","message"}}.
::testing::AssertionResult is_error(const Reply& r, int status, std::string_view code = {}) {
  if (r.status != status) return ::testing::AssertionFailure() << "expected HTTP " << status << ", got " << r;
  if (r.doc.is_discarded() || !field(r.doc, "error").is_object())
    return ::testing::AssertionFailure() << "the error body is not {\"error\":{...}}: " << r;
  const json err = field(r.doc, "error");
  if (!field(err, "code").is_string() || !field(err, "message").is_string() ||
      field(err, "message").get<std::string>().empty())
    return ::testing::AssertionFailure() << "the error has no code or message: " << r;
  if (!code.empty() && field(err, "code") != code)
    return ::testing::AssertionFailure() << "expected error code " << code << ", got " << r;
  return ::testing::AssertionSuccess();
}

// A status in a set (where docs/API.md leaves the choice open).
::testing::AssertionResult status_in(const Reply& r, std::initializer_list<int> statuses) {
  for (int s : statuses)
    if (r.status == s) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "unexpected " << r;
}

// The national digits of the village's phones: none may appear to a supervisor.
const std::vector<std::string> kVillagePhones = {"13800000001", "13800000002", "13800000003", "13800000004",
                                                 "13800000009"};

::testing::AssertionResult has_no_full_phone(const std::string& body) {
  for (const auto& p : kVillagePhones)
    if (body.find(p) != std::string::npos)
      return ::testing::AssertionFailure() << "the full phone " << p << " is shown: " << body.substr(0, 2000);
  if (body.find("3800000") != std::string::npos)
    return ::testing::AssertionFailure() << "an unmasked phone is shown: " << body.substr(0, 2000);
  return ::testing::AssertionSuccess();
}

class AdminApi : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& dir = server_.runtime().directory();
    p1_ = person_by_phone("13800000001");
    p2_ = person_by_phone("13800000002");
    p3_ = person_by_phone("13800000003");
    p4_ = person_by_phone("13800000004");
    p9_ = person_by_phone("13800000009");
    auto unit = [&dir](std::string_view path) {
      auto u = dir.org_unit_by_path(path);
      if (!u) throw std::runtime_error("the test village has no unit " + std::string(path));
      return u->id;
    };
    root_ = unit("");
    g1_ = unit("一组");
    g1east_ = unit("一组/东院");
    g2_ = unit("二组");
    g3_ = unit("三组");
    auto household = [&dir](std::string_view code) {
      auto h = dir.household_by_code(code);
      if (!h) throw std::runtime_error("the test village has no household " + std::string(code));
      return h->id;
    };
    h1_ = household("H001");
    h2_ = household("H002");
    h3_ = household("H003");
    h4_ = household("H004");
    admin_ = token(kAdminName, "admin");
  }

  std::int64_t person_by_phone(const std::string& national) {
    auto p = server_.runtime().directory().find_by_phone("+86" + national);
    if (!p) throw std::runtime_error("the test village has no person " + national);
    return p->id;
  }

  std::string token(const std::string& name, const std::string& role,
                    std::optional<std::int64_t> person = std::nullopt) {
    return server_.runtime().tokens().create(name, role, person);
  }

  // Real HTTP with any headers; the reply with its headers.
  Reply exchange(const std::string& method, const std::string& path, const std::string& body,
                 std::vector<std::pair<std::string, std::string>> headers) {
    ClientRequest req;
    req.method = method;
    req.url = "http://127.0.0.1:" + std::to_string(server_.port()) + path;
    req.body = body;
    req.headers = std::move(headers);
    req.timeout = std::chrono::seconds(60);
    const ClientResponse res = client_.request(req);
    Reply r;
    r.status = res.status;
    r.body = res.status == 0 ? res.error : res.body;
    r.doc = json::parse(res.body, nullptr, false);
    r.headers = res.headers;
    return r;
  }

  // A request with the token (none when empty) and a raw body.
  Reply raw(const std::string& method, const std::string& path, const std::string& tok, const std::string& body = {},
            const std::string& content_type = "application/json") {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!tok.empty()) headers.emplace_back("Authorization", "Bearer " + tok);
    if (!body.empty()) headers.emplace_back("Content-Type", content_type);
    return exchange(method, path, body, std::move(headers));
  }

  // A request with the token and a JSON body (none when null).
  Reply call(const std::string& method, const std::string& path, const std::string& tok, const json& body = nullptr) {
    return raw(method, path, tok, body.is_null() ? std::string() : body.dump());
  }

  Reply get(const std::string& path, const std::string& tok) { return call("GET", path, tok); }

  std::string person_path(std::int64_t id) const { return "/api/v1/persons/" + std::to_string(id); }
  std::string household_path(std::int64_t id) const { return "/api/v1/households/" + std::to_string(id); }
  std::string unit_path(std::int64_t id) const { return "/api/v1/org-units/" + std::to_string(id); }

  // The persons' ids of an audience (count checked against the list).
  Ids audience(const std::string& tok, const json& body) {
    const Reply r = call("POST", "/api/v1/audience", tok, body);
    EXPECT_EQ(r.status, 200) << r << " for " << body.dump();
    Ids out;
    for (const auto& id : field(r.doc, "person_ids"))
      if (id.is_number_integer()) out.push_back(id.get<std::int64_t>());
    EXPECT_EQ(field(r.doc, "count"), out.size()) << r;
    std::sort(out.begin(), out.end());
    return out;
  }

  // Audit entries (admin's view), newest first.
  json audit_entries(const std::string& query = {}) {
    const Reply r = get("/api/v1/audit" + (query.empty() ? std::string() : "?" + query), admin_);
    EXPECT_EQ(r.status, 200) << r;
    return items_of(r);
  }

  std::int64_t audit_rows() { return server_.count("SELECT COUNT(*) FROM core_audit_log"); }
  std::int64_t persons() { return server_.count("SELECT COUNT(*) FROM core_persons"); }
  std::int64_t households() { return server_.count("SELECT COUNT(*) FROM core_households"); }
  std::int64_t org_units() { return server_.count("SELECT COUNT(*) FROM core_org_units"); }

  // The directory and the audit log's size, for "nothing was changed" (tokens aside).
  std::string snapshot() {
    return server_.runtime().storage().read([](Session& s) {
      std::string out;
      for (const char* sql : {"SELECT id, COALESCE(parent_id, 0), name, path, COALESCE(responsible_person_id, 0) "
                              "FROM core_org_units ORDER BY id",
                              "SELECT id, code, head_name, COALESCE(org_unit_id, 0), "
                              "COALESCE(central_household_id, 0) FROM core_households ORDER BY id",
                              "SELECT id, name, COALESCE(phone, ''), COALESCE(household_id, 0), "
                              "COALESCE(org_unit_id, 0), lang, opted_out, channel_preference, updated_at "
                              "FROM core_persons ORDER BY id",
                              "SELECT person_id, role FROM core_person_roles ORDER BY person_id, role",
                              "SELECT person_id, kind, external_id FROM core_identities ORDER BY person_id, kind",
                              "SELECT COUNT(*) FROM core_audit_log"}) {
        for (const Row& row : s.query(sql)) {
          for (std::size_t i = 0; i < row.size(); ++i) out += row.text(i) + "|";
          out += "\n";
        }
        out += "--\n";
      }
      return out;
    });
  }

  TestServer server_;
  http::BeastHttpClient client_{64 * 1024 * 1024};
  std::string admin_;
  std::int64_t p1_ = 0, p2_ = 0, p3_ = 0, p4_ = 0, p9_ = 0;
  std::int64_t root_ = 0, g1_ = 0, g1east_ = 0, g2_ = 0, g3_ = 0;
  std::int64_t h1_ = 0, h2_ = 0, h3_ = 0, h4_ = 0;
};

// ---------------------------------------------------------------------------
// Tokens and roles at the door

TEST_F(AdminApi, NoTokenAMalformedHeaderAndUnknownOrRevokedTokensGet401) {
  const std::vector<std::pair<std::string, std::string>> reads = {
      {"GET", "/api/v1/persons"},      {"GET", "/api/v1/persons/" + std::to_string(p1_)},
      {"GET", "/api/v1/org-units"},    {"GET", "/api/v1/households"},
      {"GET", "/api/v1/roles"},        {"GET", "/api/v1/audit"},
      {"GET", "/api/v1/tokens"},       {"GET", "/api/v1/me"},
      {"GET", "/api/v1/export/people"}};
  for (const auto& [method, path] : reads) {
    SCOPED_TRACE(method + " " + path);
    EXPECT_TRUE(is_error(raw(method, path, ""), 401, "unauthorized"));
    EXPECT_TRUE(is_error(raw(method, path, "vb_" + std::string(48, '0')), 401, "unauthorized"));
    for (const std::string& header : {std::string("Basic YWRtaW46YWRtaW4="), std::string("Bearer"),
                                      std::string("Bearer "), admin_, "Token " + admin_}) {
      SCOPED_TRACE("Authorization: " + header);
      EXPECT_TRUE(is_error(exchange(method, path, "", {{"Authorization", header}}), 401, "unauthorized"));
    }
  }
  const std::string before = snapshot();
  EXPECT_TRUE(is_error(call("POST", "/api/v1/persons", "", {{"name", "无名"}, {"phone", "13800000021"}}), 401));
  EXPECT_TRUE(is_error(call("DELETE", person_path(p1_), ""), 401));
  EXPECT_EQ(snapshot(), before) << "a refused request changes nothing";

  const std::string revoked = token("用完即弃", "admin");
  EXPECT_EQ(get("/api/v1/persons", revoked).status, 200);
  ASSERT_TRUE(server_.runtime().tokens().revoke("用完即弃"));
  EXPECT_TRUE(is_error(get("/api/v1/persons", revoked), 401, "unauthorized"));
  EXPECT_TRUE(is_error(get("/api/v1/me", revoked), 401, "unauthorized"));
  EXPECT_EQ(get("/api/v1/persons", admin_).status, 200) << "other tokens still work";
}

TEST_F(AdminApi, VillagerAndOtherRolesGet403OnEveryDirectoryRoute) {
  const std::string body_person = json{{"name", "无名"}, {"phone", "13800000021"}}.dump();
  const std::vector<std::tuple<std::string, std::string, std::string>> routes = {
      {"GET", "/api/v1/persons", ""},
      {"GET", person_path(p1_), ""},
      {"GET", person_path(p1_) + "/identities", ""},
      {"GET", "/api/v1/org-units", ""},
      {"GET", unit_path(g1_), ""},
      {"GET", "/api/v1/households", ""},
      {"GET", household_path(h1_), ""},
      {"GET", "/api/v1/roles", ""},
      {"GET", "/api/v1/audit", ""},
      {"GET", "/api/v1/tokens", ""},
      {"GET", "/api/v1/export/people", ""},
      {"POST", "/api/v1/persons", body_person},
      {"PUT", person_path(p1_), R"({"name":"改名"})"},
      {"DELETE", person_path(p1_), ""},
      {"POST", person_path(p1_) + "/roles", R"({"role":"party_member"})"},
      {"POST", "/api/v1/org-units", R"({"name":"五组"})"},
      {"POST", "/api/v1/households", R"({"code":"H020"})"},
      {"POST", "/api/v1/audience", R"({"everyone":true})"},
      {"POST", "/api/v1/tokens", R"({"name":"x","role":"admin"})"},
  };
  const std::string before = snapshot();
  for (const auto& [name, token_role] : std::vector<std::pair<std::string, std::string>>{
           {"村民令牌", "villager"}, {"评议员令牌", "evaluator"}, {"指挥长令牌", "commander"}}) {
    const std::string tok = token(name, token_role, p1_);
    for (const auto& [method, path, body] : routes) {
      SCOPED_TRACE(token_role + ": " + method + " " + path);
      EXPECT_TRUE(is_error(raw(method, path, tok, body), 403, "forbidden"));
    }
    SCOPED_TRACE(token_role + ": import");
    EXPECT_TRUE(is_error(raw("POST", "/api/v1/import/people", tok, "户号,户主,姓名,手机\nH020,某,某,13800000022\n",
                             "text/csv; charset=utf-8"),
                         403, "forbidden"));
  }
  EXPECT_EQ(snapshot(), before) << "a refused request changes nothing";
}

TEST_F(AdminApi, MeNamesTheTokenAndItsScope) {
  const Reply admin = get("/api/v1/me", admin_);
  ASSERT_EQ(admin.status, 200) << admin;
  EXPECT_EQ(field(admin.doc, "name"), kAdminName);
  EXPECT_EQ(field(admin.doc, "role"), json("admin"));
  EXPECT_EQ(field(field(admin.doc, "scope"), "whole_village"), true) << admin;

  const Reply cadre = get("/api/v1/me", token("一组王小红", "cadre", p2_));
  ASSERT_EQ(cadre.status, 200) << cadre;
  EXPECT_EQ(field(cadre.doc, "name"), json("一组王小红"));
  EXPECT_EQ(field(cadre.doc, "role"), json("cadre"));
  EXPECT_EQ(field(cadre.doc, "person_id"), p2_);
  const json scope = field(cadre.doc, "scope");
  EXPECT_EQ(field(scope, "whole_village"), false) << cadre;
  ASSERT_TRUE(field(scope, "org_units").is_array()) << cadre;
  ASSERT_EQ(field(scope, "org_units").size(), 1U) << cadre;
  EXPECT_EQ(id_of(field(scope, "org_units")[0]), g1_);
  EXPECT_EQ(field(field(scope, "org_units")[0], "path"), json("一组"));

  const Reply unbound = get("/api/v1/me", token("全村干部", "cadre"));
  ASSERT_EQ(unbound.status, 200) << unbound;
  EXPECT_EQ(field(field(unbound.doc, "scope"), "whole_village"), true) << unbound;
}

// ---------------------------------------------------------------------------
// Org units

TEST_F(AdminApi, OrgUnitsAreCreatedReadRenamedMovedListedAndDeleted) {
  const Reply all = get("/api/v1/org-units", admin_);
  ASSERT_EQ(all.status, 200) << all;
  EXPECT_EQ(field(all.doc, "total"), 5) << all;
  bool saw_root = false;
  for (const auto& u : items_of(all))
    if (id_of(u) == root_) {
      saw_root = true;
      EXPECT_TRUE(field(u, "parent_id").is_null()) << u;
      EXPECT_EQ(field(u, "path"), json("")) << u;
    }
  EXPECT_TRUE(saw_root) << all;

  const Reply north = call("POST", "/api/v1/org-units", admin_, {{"name", "北院"}, {"parent_id", g1_}});
  ASSERT_EQ(north.status, 201) << north;
  const std::int64_t n = id_of(north.doc);
  ASSERT_GT(n, 0);
  EXPECT_EQ(field(north.doc, "parent_id"), g1_);
  EXPECT_EQ(field(north.doc, "name"), json("北院"));
  EXPECT_EQ(field(north.doc, "path"), json("一组/北院"));
  EXPECT_TRUE(field(north.doc, "responsible_person_id").is_null()) << north;

  const Reply well = call("POST", "/api/v1/org-units", admin_, {{"name", "井边"}, {"parent_id", n}});
  ASSERT_EQ(well.status, 201) << well;
  const std::int64_t w = id_of(well.doc);
  EXPECT_EQ(field(well.doc, "path"), json("一组/北院/井边"));

  const Reply fourth = call("POST", "/api/v1/org-units", admin_, {{"name", "四组"}});
  ASSERT_EQ(fourth.status, 201) << fourth;
  EXPECT_EQ(field(fourth.doc, "parent_id"), root_) << "parent_id defaults to the root";
  EXPECT_EQ(field(fourth.doc, "path"), json("四组"));

  const std::string before_refusals = snapshot();
  EXPECT_TRUE(
      is_error(call("POST", "/api/v1/org-units", admin_, {{"name", "北院"}, {"parent_id", g1_}}), 409, "conflict"));
  EXPECT_TRUE(is_error(call("POST", "/api/v1/org-units", admin_, {{"name", "东/西"}}), 422, "invalid"));
  EXPECT_EQ(snapshot(), before_refusals);

  const Reply read = get(unit_path(n), admin_);
  ASSERT_EQ(read.status, 200) << read;
  EXPECT_EQ(read.doc, north.doc);

  const Reply renamed = call("PUT", unit_path(n), admin_, {{"name", "南院"}, {"responsible_person_id", p1_}});
  ASSERT_EQ(renamed.status, 200) << renamed;
  EXPECT_EQ(field(renamed.doc, "path"), json("一组/南院"));
  EXPECT_EQ(field(renamed.doc, "responsible_person_id"), p1_);
  EXPECT_EQ(field(get(unit_path(w), admin_).doc, "path"), json("一组/南院/井边")) << "the subtree's paths follow";

  const std::string before_cycle = snapshot();
  EXPECT_TRUE(is_error(call("PUT", unit_path(n), admin_, {{"parent_id", w}}), 422, "invalid"));
  EXPECT_TRUE(is_error(call("PUT", unit_path(n), admin_, {{"parent_id", n}}), 422, "invalid"));
  EXPECT_TRUE(is_error(call("PUT", unit_path(n), admin_, {{"name", "东院"}, {"parent_id", g1_}}), 409, "conflict"))
      << "一组/东院 is taken";
  EXPECT_EQ(snapshot(), before_cycle);

  const Reply moved = call("PUT", unit_path(n), admin_, {{"parent_id", g2_}});
  ASSERT_EQ(moved.status, 200) << moved;
  EXPECT_EQ(field(moved.doc, "path"), json("二组/南院"));
  EXPECT_EQ(field(get(unit_path(w), admin_).doc, "path"), json("二组/南院/井边"));

  const Reply cleared = call("PUT", unit_path(n), admin_, {{"responsible_person_id", nullptr}});
  ASSERT_EQ(cleared.status, 200) << cleared;
  EXPECT_TRUE(field(cleared.doc, "responsible_person_id").is_null()) << cleared;
  EXPECT_EQ(field(cleared.doc, "path"), json("二组/南院")) << "other fields stay";

  const Reply found = get("/api/v1/org-units?q=" + url_encode("南院"), admin_);
  ASSERT_EQ(found.status, 200) << found;
  EXPECT_EQ(ids_in(items_of(found)), (Ids{n, w}));
  EXPECT_EQ(field(found.doc, "total"), 2);

  const std::string before_deletes = snapshot();
  EXPECT_TRUE(is_error(call("DELETE", unit_path(n), admin_), 409, "conflict")) << "it has a sub-unit";
  EXPECT_TRUE(is_error(call("DELETE", unit_path(root_), admin_), 409, "conflict")) << "the root";
  EXPECT_TRUE(is_error(call("DELETE", unit_path(g1east_), admin_), 409, "conflict")) << "households and persons";
  EXPECT_TRUE(is_error(call("DELETE", unit_path(g3_), admin_), 409, "conflict")) << "households and persons";
  EXPECT_EQ(snapshot(), before_deletes);

  EXPECT_TRUE(is_success(call("DELETE", unit_path(w), admin_).status));
  EXPECT_TRUE(is_error(get(unit_path(w), admin_), 404, "not_found"));
  EXPECT_TRUE(is_success(call("DELETE", unit_path(n), admin_).status));
  EXPECT_TRUE(is_error(get(unit_path(n), admin_), 404, "not_found"));
  EXPECT_TRUE(is_error(call("DELETE", unit_path(n), admin_), 404, "not_found"));
  EXPECT_TRUE(is_error(call("PUT", unit_path(n), admin_, {{"name", "复活"}}), 404, "not_found"));
  EXPECT_EQ(field(get("/api/v1/org-units", admin_).doc, "total"), 6);
}

// ---------------------------------------------------------------------------
// Households

TEST_F(AdminApi, HouseholdsAreCreatedReadUpdatedListedAndDeleted) {
  const Reply h1 = get(household_path(h1_), admin_);
  ASSERT_EQ(h1.status, 200) << h1;
  EXPECT_EQ(field(h1.doc, "code"), json("H001"));
  EXPECT_EQ(field(h1.doc, "head_name"), json("王大山"));
  EXPECT_EQ(field(h1.doc, "org_unit_id"), g1east_);
  EXPECT_EQ(field(h1.doc, "org_unit_path"), json("一组/东院"));
  EXPECT_TRUE(field(h1.doc, "central_household_id").is_null()) << h1;
  EXPECT_EQ(field(h1.doc, "central_household_code"), json(""));
  EXPECT_EQ(field(h1.doc, "members"), 2);
  const Reply h2 = get(household_path(h2_), admin_);
  EXPECT_EQ(field(h2.doc, "central_household_id"), h1_) << h2;
  EXPECT_EQ(field(h2.doc, "central_household_code"), json("H001")) << h2;

  const Reply created =
      call("POST", "/api/v1/households", admin_,
           {{"code", "H009"}, {"head_name", "孙八"}, {"org_unit_id", g2_}, {"central_household_id", h1_}});
  ASSERT_EQ(created.status, 201) << created;
  const std::int64_t h9 = id_of(created.doc);
  ASSERT_GT(h9, 0);
  EXPECT_EQ(field(created.doc, "code"), json("H009"));
  EXPECT_EQ(field(created.doc, "head_name"), json("孙八"));
  EXPECT_EQ(field(created.doc, "org_unit_id"), g2_);
  EXPECT_EQ(field(created.doc, "org_unit_path"), json("二组"));
  EXPECT_EQ(field(created.doc, "central_household_id"), h1_);
  EXPECT_EQ(field(created.doc, "central_household_code"), json("H001"));
  EXPECT_EQ(field(created.doc, "members"), 0);
  EXPECT_EQ(get(household_path(h9), admin_).doc, created.doc);

  const std::string before = snapshot();
  EXPECT_TRUE(is_error(call("POST", "/api/v1/households", admin_, {{"code", "H009"}, {"head_name", "又一个"}}), 409,
                       "conflict"));
  EXPECT_TRUE(is_error(call("PUT", household_path(h9), admin_, {{"code", "H001"}}), 409, "conflict"));
  EXPECT_EQ(snapshot(), before);

  const Reply updated =
      call("PUT", household_path(h9), admin_, {{"head_name", "孙八八"}, {"central_household_id", nullptr}});
  ASSERT_EQ(updated.status, 200) << updated;
  EXPECT_EQ(field(updated.doc, "head_name"), json("孙八八"));
  EXPECT_TRUE(field(updated.doc, "central_household_id").is_null()) << updated;
  EXPECT_EQ(field(updated.doc, "code"), json("H009")) << "fields not sent stay";
  EXPECT_EQ(field(get(household_path(h9), admin_).doc, "head_name"), json("孙八八"));

  const Reply all = get("/api/v1/households", admin_);
  EXPECT_EQ(field(all.doc, "total"), 5) << all;
  EXPECT_EQ(ids_in(items_of(get("/api/v1/households?q=" + url_encode("孙"), admin_))), Ids{h9}) << "head contains";
  EXPECT_EQ(ids_in(items_of(get("/api/v1/households?q=H003", admin_))), Ids{h3_}) << "code contains";
  EXPECT_EQ(ids_in(items_of(get("/api/v1/households?org_unit_id=" + std::to_string(g1_), admin_))), Ids{h1_})
      << "一组's subtree holds H001 (in 一组/东院)";
  Ids in_g2{h2_, h3_, h9};
  std::sort(in_g2.begin(), in_g2.end());
  EXPECT_EQ(ids_in(items_of(get("/api/v1/households?org_unit_id=" + std::to_string(g2_), admin_))), in_g2);
  const Reply page2 = get("/api/v1/households?page=2&per_page=2", admin_);
  EXPECT_EQ(items_of(page2).size(), 2U) << page2;
  EXPECT_EQ(field(page2.doc, "total"), 5);
  EXPECT_EQ(field(page2.doc, "page"), 2);
  EXPECT_EQ(field(page2.doc, "per_page"), 2);

  const std::string before_delete = snapshot();
  EXPECT_TRUE(is_error(call("DELETE", household_path(h1_), admin_), 409, "conflict")) << "H001 has members";
  EXPECT_EQ(snapshot(), before_delete);
  EXPECT_EQ(get(household_path(h1_), admin_).status, 200);

  EXPECT_TRUE(is_success(call("DELETE", household_path(h9), admin_).status));
  EXPECT_TRUE(is_error(get(household_path(h9), admin_), 404, "not_found"));
  EXPECT_EQ(households(), 4);
}

// ---------------------------------------------------------------------------
// Persons

TEST_F(AdminApi, PersonsAreCreatedReadUpdatedAndDeleted) {
  const Reply created = call("POST", "/api/v1/persons", admin_,
                             {{"name", "周九"},
                              {"phone", "138 0000 0011"},
                              {"household_id", h2_},
                              {"roles", json::array({"party_member"})},
                              {"identities", {{"wecom", "wx-011"}}},
                              {"lang", "en"},
                              {"opted_out", false},
                              {"channel_preference", ""}});
  ASSERT_EQ(created.status, 201) << created;
  const std::int64_t id = id_of(created.doc);
  ASSERT_GT(id, 0);
  EXPECT_EQ(field(created.doc, "name"), json("周九"));
  EXPECT_EQ(field(created.doc, "phone"), json("+8613800000011")) << "normalised to E.164";
  EXPECT_EQ(field(created.doc, "household_id"), h2_);
  EXPECT_EQ(field(created.doc, "household_code"), json("H002"));
  EXPECT_EQ(field(created.doc, "org_unit_id"), g2_) << "the household's unit";
  EXPECT_EQ(field(created.doc, "org_unit_path"), json("二组"));
  EXPECT_THAT(strings_in(field(created.doc, "roles")), UnorderedElementsAre("villager", "party_member"));
  EXPECT_EQ(field(created.doc, "identities"), (json{{"wecom", "wx-011"}}));
  EXPECT_EQ(field(created.doc, "lang"), json("en"));
  EXPECT_EQ(field(created.doc, "opted_out"), false);
  EXPECT_TRUE(field(created.doc, "created_at").is_number_integer() && field(created.doc, "created_at") > 0) << created;

  const Reply read = get(person_path(id), admin_);
  ASSERT_EQ(read.status, 200) << read;
  EXPECT_EQ(read.doc, created.doc);
  auto seen = server_.runtime().directory().find_by_identity("wecom", "wx-011");
  ASSERT_TRUE(seen.has_value()) << "the bot knows the new person at once";
  EXPECT_EQ(seen->id, id);

  const Reply updated = call("PUT", person_path(id), admin_,
                             {{"name", "周久"},
                              {"roles", json::array({"volunteer"})},
                              {"identities", {{"wecom", nullptr}, {"telegram", "tg-11"}}},
                              {"opted_out", true}});
  ASSERT_EQ(updated.status, 200) << updated;
  EXPECT_EQ(field(updated.doc, "name"), json("周久"));
  EXPECT_THAT(strings_in(field(updated.doc, "roles")), UnorderedElementsAre("villager", "volunteer"))
      << "roles replace the set; everyone stays a villager";
  EXPECT_EQ(field(updated.doc, "identities"), (json{{"telegram", "tg-11"}}));
  EXPECT_EQ(field(updated.doc, "opted_out"), true);
  EXPECT_EQ(field(updated.doc, "phone"), json("+8613800000011")) << "fields not sent stay";
  EXPECT_EQ(field(updated.doc, "lang"), json("en"));
  EXPECT_EQ(get(person_path(id), admin_).doc, updated.doc);
  auto renamed = server_.runtime().directory().find_by_phone("+8613800000011");
  ASSERT_TRUE(renamed.has_value());
  EXPECT_EQ(renamed->name, "周久") << "the bot sees the change at once";
  EXPECT_FALSE(server_.runtime().directory().find_by_identity("wecom", "wx-011").has_value());

  const Reply cleared = call("PUT", person_path(id), admin_, {{"identities", {{"telegram", ""}}}});
  ASSERT_EQ(cleared.status, 200) << cleared;
  EXPECT_EQ(field(cleared.doc, "identities"), json::object()) << "a kind mapped to \"\" is removed";

  EXPECT_TRUE(is_success(call("DELETE", person_path(id), admin_).status));
  EXPECT_TRUE(is_error(get(person_path(id), admin_), 404, "not_found"));
  EXPECT_TRUE(is_error(call("DELETE", person_path(id), admin_), 404, "not_found"));
  EXPECT_TRUE(is_error(call("PUT", person_path(id), admin_, {{"name", "鬼"}}), 404, "not_found"));
  EXPECT_FALSE(server_.runtime().directory().find_by_phone("+8613800000011").has_value());
  EXPECT_EQ(persons(), 5);
  EXPECT_TRUE(is_error(get("/api/v1/persons/999999", admin_), 404, "not_found"));
}

TEST_F(AdminApi, APersonNeedsANamePhoneAndHouseholdAndGetsDefaults) {
  // Every person belongs to a household, as in the register (and its CSV round trip).
  const Reply homeless = call("POST", "/api/v1/persons", admin_, {{"name", "吴十"}, {"phone", "13800000012"}});
  EXPECT_TRUE(is_error(homeless, 400, "bad_request")) << homeless;
  EXPECT_FALSE(server_.runtime().directory().find_by_phone("13800000012").has_value()) << "nothing stored";
  const Reply minimal =
      call("POST", "/api/v1/persons", admin_, {{"name", "吴十"}, {"phone", "13800000012"}, {"household_id", h1_}});
  ASSERT_EQ(minimal.status, 201) << minimal;
  EXPECT_EQ(field(minimal.doc, "household_id"), h1_);
  EXPECT_EQ(field(minimal.doc, "org_unit_id"),
            field(get("/api/v1/households/" + std::to_string(h1_), admin_).doc, "org_unit_id"))
      << "the household's unit by default";
  EXPECT_EQ(strings_in(field(minimal.doc, "roles")), std::vector<std::string>{"villager"});
  EXPECT_EQ(field(minimal.doc, "lang"), json("zh-CN"));
}

TEST_F(AdminApi, PersonListsArePagedCountedAndFiltered) {
  const Ids everyone = [&] {
    Ids all{p1_, p2_, p3_, p4_, p9_};
    std::sort(all.begin(), all.end());
    return all;
  }();
  const Reply defaults = get("/api/v1/persons", admin_);
  ASSERT_EQ(defaults.status, 200) << defaults;
  EXPECT_EQ(field(defaults.doc, "total"), 5);
  EXPECT_EQ(field(defaults.doc, "page"), 1);
  EXPECT_EQ(field(defaults.doc, "per_page"), 50);
  EXPECT_EQ(ids_in(items_of(defaults)), everyone);

  Ids paged;
  for (int page = 1; page <= 4; ++page) {
    const Reply r = get("/api/v1/persons?per_page=2&page=" + std::to_string(page), admin_);
    ASSERT_EQ(r.status, 200) << r;
    EXPECT_EQ(field(r.doc, "total"), 5) << r;
    EXPECT_EQ(field(r.doc, "page"), page) << r;
    EXPECT_EQ(field(r.doc, "per_page"), 2) << r;
    EXPECT_EQ(items_of(r).size(), page <= 2 ? 2U : page == 3 ? 1U : 0U) << r;
    for (const auto& item : items_of(r)) paged.push_back(id_of(item));
  }
  std::sort(paged.begin(), paged.end());
  EXPECT_EQ(paged, everyone) << "the pages hold everyone once";

  const Reply too_many = get("/api/v1/persons?per_page=501", admin_);
  if (too_many.status == 200) {
    EXPECT_LE(field(too_many.doc, "per_page"), 500) << "at most 500 per page";
  } else {
    EXPECT_TRUE(is_error(too_many, 400, "bad_request"));
  }

  auto filtered = [&](const std::string& query) { return ids_in(items_of(get("/api/v1/persons?" + query, admin_))); };
  auto sorted = [](Ids ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  EXPECT_EQ(filtered("role=cadre"), Ids{p2_});
  EXPECT_EQ(filtered("role=emergency_team"), Ids{p4_});
  EXPECT_EQ(filtered("role=villager"), everyone);
  EXPECT_EQ(filtered("org_unit_id=" + std::to_string(g1east_)), sorted({p1_, p2_}));
  EXPECT_EQ(filtered("org_unit_id=" + std::to_string(g2_)), sorted({p3_, p4_}));
  EXPECT_EQ(filtered("household_id=" + std::to_string(h2_)), Ids{p3_});
  EXPECT_EQ(filtered("q=" + url_encode("李")), Ids{p3_}) << "name contains";
  EXPECT_EQ(filtered("q=" + url_encode("王")), sorted({p1_, p2_}));
  EXPECT_EQ(filtered("q=00004"), Ids{p4_}) << "phone digits";
  EXPECT_EQ(filtered("q=13800000009"), Ids{p9_});
  EXPECT_EQ(filtered("role=cadre&q=" + url_encode("李")), Ids{}) << "filters combine";
  const Reply one = get("/api/v1/persons?role=cadre", admin_);
  EXPECT_EQ(field(one.doc, "total"), 1) << "total counts the filtered set";
}

TEST_F(AdminApi, InvalidPhonesGet422AndTakenPhones409) {
  const std::string before = snapshot();
  for (const std::string phone : {"12345", "1380000000", "138000000011", "23800000011", "abc", "+86 12"}) {
    SCOPED_TRACE(phone);
    EXPECT_TRUE(
        is_error(call("POST", "/api/v1/persons", admin_, {{"name", "某人"}, {"phone", phone}, {"household_id", h1_}}),
                 422, "invalid"));
  }
  EXPECT_TRUE(is_error(call("PUT", person_path(p3_), admin_, {{"phone", "12345"}}), 422, "invalid"));
  for (const std::string phone : {"13800000001", "+86 138-0000-0001", "+8613800000001", "8613800000001"}) {
    SCOPED_TRACE(phone);
    EXPECT_TRUE(
        is_error(call("POST", "/api/v1/persons", admin_, {{"name", "某人"}, {"phone", phone}, {"household_id", h1_}}),
                 409, "conflict"));
  }
  EXPECT_TRUE(is_error(call("PUT", person_path(p3_), admin_, {{"phone", "138 0000 0001"}}), 409, "conflict"));
  EXPECT_TRUE(
      status_in(call("POST", "/api/v1/persons", admin_, {{"name", "没电话"}, {"household_id", h1_}}), {400, 422}))
      << "phone is required";
  EXPECT_TRUE(
      status_in(call("POST", "/api/v1/persons", admin_, {{"phone", "13800000021"}, {"household_id", h1_}}), {400, 422}))
      << "name is required";
  EXPECT_TRUE(status_in(
      call("POST", "/api/v1/persons", admin_, {{"name", ""}, {"phone", "13800000021"}, {"household_id", h1_}}),
      {400, 422}))
      << "an empty name";
  EXPECT_TRUE(is_error(
      call("POST", "/api/v1/persons", admin_,
           {{"name", "某人"}, {"phone", "13800000021"}, {"household_id", h1_}, {"roles", json::array({"king"})}}),
      422, "invalid"))
      << "an unknown role";
  EXPECT_EQ(snapshot(), before) << "nothing is changed by a request that gets an error";
  EXPECT_EQ(field(get(person_path(p3_), admin_).doc, "phone"), json("+8613800000003"));
}

TEST_F(AdminApi, MalformedJsonUnknownFieldsAndWrongTypesGet400) {
  const std::string before = snapshot();
  for (const std::string& body :
       {std::string("{\"name\": \"x\", "), std::string("not json"), std::string("[1,2]"), std::string("\"周九\""),
        std::string("{}{}"), std::string(R"({"name":"周九","phone":"13800000011","nickname":"九"})"),
        std::string(R"({"name":7,"phone":"13800000011"})"), std::string(R"({"name":"周九","phone":13800000011})"),
        std::string(R"({"name":"周九","phone":"13800000011","household_id":"H001"})"),
        std::string(R"({"name":"周九","phone":"13800000011","roles":"party_member"})"),
        std::string(R"({"name":"周九","phone":"13800000011","opted_out":"yes"})")}) {
    SCOPED_TRACE(body);
    EXPECT_TRUE(is_error(raw("POST", "/api/v1/persons", admin_, body), 400, "bad_request"));
  }
  EXPECT_TRUE(is_error(raw("PUT", person_path(p1_), admin_, R"({"nme":"x"})"), 400, "bad_request"));
  EXPECT_TRUE(is_error(raw("PUT", person_path(p1_), admin_, "{"), 400, "bad_request"));
  EXPECT_TRUE(
      is_error(raw("POST", "/api/v1/org-units", admin_, R"({"name":"五组","colour":"red"})"), 400, "bad_request"));
  EXPECT_TRUE(is_error(raw("POST", "/api/v1/org-units", admin_, R"({"name":["五组"]})"), 400, "bad_request"));
  EXPECT_TRUE(is_error(raw("POST", "/api/v1/households", admin_, R"({"code":"H010","size":3})"), 400, "bad_request"));
  EXPECT_TRUE(is_error(raw("POST", person_path(p1_) + "/roles", admin_, R"({"role":"party_member","x":1})"), 400,
                       "bad_request"));
  EXPECT_TRUE(
      is_error(raw("PUT", person_path(p1_) + "/identities/wecom", admin_, R"({"external_id":5})"), 400, "bad_request"));
  EXPECT_TRUE(is_error(raw("POST", "/api/v1/audience", admin_, R"({"groups":[1]})"), 400, "bad_request"));
  EXPECT_TRUE(is_error(raw("POST", "/api/v1/audience", admin_, R"({"org_units":["一组"]})"), 400, "bad_request"));
  EXPECT_TRUE(
      is_error(raw("POST", "/api/v1/tokens", admin_, R"({"name":"x","role":"cadre","colour":1})"), 400, "bad_request"));
  EXPECT_EQ(snapshot(), before) << "nothing is changed by a request that gets an error";
  EXPECT_EQ(server_.runtime().tokens().list().size(), 1U) << "no token was created";
}

// ---------------------------------------------------------------------------
// Roles and chat identities

TEST_F(AdminApi, RolesAreAddedAndRemovedButEveryoneStaysAVillager) {
  const Reply roles = get("/api/v1/roles", admin_);
  ASSERT_EQ(roles.status, 200) << roles;
  ASSERT_EQ(items_of(roles).size(), 11U) << roles;
  std::map<std::string, json> by_role;
  for (const auto& r : items_of(roles)) by_role[field(r, "role").get<std::string>()] = r;
  EXPECT_EQ(field(by_role["villager"], "count"), 5);
  EXPECT_EQ(field(by_role["cadre"], "count"), 1);
  EXPECT_EQ(field(by_role["cadre"], "name_zh"), json("村干部"));
  EXPECT_EQ(field(by_role["emergency_team"], "count"), 1);
  EXPECT_EQ(field(by_role["admin"], "count"), 1);
  EXPECT_EQ(field(by_role["party_member"], "count"), 0);
  EXPECT_EQ(field(by_role["party_member"], "name_zh"), json("党员"));

  const std::string roles_path = person_path(p1_) + "/roles";
  const Reply added = call("POST", roles_path, admin_, {{"role", "party_member"}});
  ASSERT_TRUE(is_success(added.status)) << added;
  EXPECT_EQ(id_of(added.doc), p1_) << "the person is returned";
  EXPECT_THAT(strings_in(field(added.doc, "roles")), UnorderedElementsAre("villager", "party_member"));
  EXPECT_THAT(strings_in(field(get(person_path(p1_), admin_).doc, "roles")),
              UnorderedElementsAre("villager", "party_member"));
  for (const auto& r : items_of(get("/api/v1/roles", admin_)))
    if (field(r, "role") == "party_member") {
      EXPECT_EQ(field(r, "count"), 1);
    }

  const Reply removed = call("DELETE", roles_path + "/party_member", admin_);
  ASSERT_TRUE(is_success(removed.status)) << removed;
  EXPECT_EQ(strings_in(field(removed.doc, "roles")), std::vector<std::string>{"villager"});

  const std::string before = snapshot();
  EXPECT_TRUE(is_error(call("DELETE", roles_path + "/villager", admin_), 422, "invalid"));
  EXPECT_TRUE(is_error(call("POST", roles_path, admin_, {{"role", "king"}}), 422, "invalid"));
  EXPECT_TRUE(is_error(call("POST", "/api/v1/persons/999999/roles", admin_, {{"role", "cadre"}}), 404, "not_found"));
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(strings_in(field(get(person_path(p1_), admin_).doc, "roles")), std::vector<std::string>{"villager"});
}

TEST_F(AdminApi, ChatIdentitiesAreSetListedRemovedAndBelongToOnePerson) {
  const Reply p4 = get(person_path(p4_) + "/identities", admin_);
  ASSERT_EQ(p4.status, 200) << p4;
  EXPECT_EQ(field(p4.doc, "items"), (json::array({{{"kind", "wecom"}, {"external_id", "wx-004"}}})));

  const std::string ids = person_path(p1_) + "/identities";
  ASSERT_TRUE(is_success(call("PUT", ids + "/dingtalk", admin_, {{"external_id", "dt-001"}}).status));
  EXPECT_EQ(field(get(ids, admin_).doc, "items"), (json::array({{{"kind", "dingtalk"}, {"external_id", "dt-001"}}})));
  EXPECT_EQ(field(field(get(person_path(p1_), admin_).doc, "identities"), "dingtalk"), json("dt-001"));
  auto found = server_.runtime().directory().find_by_identity("dingtalk", "dt-001");
  ASSERT_TRUE(found.has_value()) << "a message from dt-001 is now 王大山's";
  EXPECT_EQ(found->id, p1_);

  ASSERT_TRUE(is_success(call("PUT", ids + "/dingtalk", admin_, {{"external_id", "dt-001b"}}).status));
  EXPECT_EQ(field(field(get(person_path(p1_), admin_).doc, "identities"), "dingtalk"), json("dt-001b")) << "replaced";

  const std::string before = snapshot();
  EXPECT_TRUE(is_error(call("PUT", ids + "/wecom", admin_, {{"external_id", "wx-004"}}), 409, "conflict"))
      << "wx-004 is 赵五's";
  EXPECT_TRUE(status_in(call("PUT", ids + "/qq", admin_, {{"external_id", "q-1"}}), {400, 404, 422}))
      << "qq is not a kind";
  EXPECT_TRUE(status_in(call("PUT", ids + "/wecom", admin_, {{"external_id", ""}}), {400, 422})) << "empty id";
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(server_.runtime().directory().find_by_identity("wecom", "wx-004")->id, p4_);

  ASSERT_TRUE(is_success(call("DELETE", ids + "/dingtalk", admin_).status));
  EXPECT_EQ(field(get(ids, admin_).doc, "items"), json::array());
  EXPECT_FALSE(server_.runtime().directory().find_by_identity("dingtalk", "dt-001b").has_value());
  EXPECT_TRUE(is_error(get("/api/v1/persons/999999/identities", admin_), 404, "not_found"));
}

// ---------------------------------------------------------------------------
// A cadre's scope (四包一联): 王小红 answers for 一组, which holds H001 (一组/东院)

TEST_F(AdminApi, AScopedCadreReadsOnlyInsideHerUnits) {
  const std::string cadre = token("一组王小红", "cadre", p2_);
  EXPECT_EQ(get(person_path(p1_), cadre).status, 200);
  EXPECT_EQ(get(person_path(p2_), cadre).status, 200);
  EXPECT_EQ(get(person_path(p1_) + "/identities", cadre).status, 200);
  EXPECT_EQ(get(household_path(h1_), cadre).status, 200);
  EXPECT_EQ(get(unit_path(g1_), cadre).status, 200);
  EXPECT_EQ(get(unit_path(g1east_), cadre).status, 200);
  EXPECT_EQ(field(get(person_path(p1_), cadre).doc, "phone"), json("+8613800000001")) << "cadres see phones in full";

  for (std::int64_t outside : {p3_, p4_, p9_}) {
    SCOPED_TRACE(outside);
    EXPECT_TRUE(is_error(get(person_path(outside), cadre), 403, "out_of_scope"));
    EXPECT_TRUE(is_error(get(person_path(outside) + "/identities", cadre), 403, "out_of_scope"));
  }
  EXPECT_TRUE(is_error(get(household_path(h2_), cadre), 403, "out_of_scope"));
  EXPECT_TRUE(is_error(get(household_path(h4_), cadre), 403, "out_of_scope"));
  EXPECT_TRUE(is_error(get(unit_path(g2_), cadre), 403, "out_of_scope"));

  const Reply people = get("/api/v1/persons", cadre);
  ASSERT_EQ(people.status, 200) << people;
  Ids inside{p1_, p2_};
  std::sort(inside.begin(), inside.end());
  EXPECT_EQ(ids_in(items_of(people)), inside) << "lists only contain what is inside";
  EXPECT_EQ(field(people.doc, "total"), 2);
  EXPECT_EQ(ids_in(items_of(get("/api/v1/persons?role=evaluator", cadre))), Ids{});
  EXPECT_EQ(ids_in(items_of(get("/api/v1/persons?q=" + url_encode("李"), cadre))), Ids{});
  const Reply homes = get("/api/v1/households", cadre);
  ASSERT_EQ(homes.status, 200) << homes;
  EXPECT_EQ(ids_in(items_of(homes)), Ids{h1_});
  EXPECT_EQ(field(homes.doc, "total"), 1);
  const Reply units = get("/api/v1/org-units", cadre);
  ASSERT_EQ(units.status, 200) << units;
  for (const auto& u : items_of(units)) EXPECT_NE(id_of(u), g2_) << "二组 is outside: " << units;
}

TEST_F(AdminApi, AScopedCadreChangesOnlyInsideHerUnits) {
  const std::string cadre = token("一组王小红", "cadre", p2_);
  const Reply renamed = call("PUT", person_path(p1_), cadre, {{"name", "王大山山"}});
  ASSERT_EQ(renamed.status, 200) << renamed;
  EXPECT_EQ(field(get(person_path(p1_), admin_).doc, "name"), json("王大山山"));
  const Reply joined =
      call("POST", "/api/v1/persons", cadre, {{"name", "王小小"}, {"phone", "13800000031"}, {"household_id", h1_}});
  ASSERT_EQ(joined.status, 201) << joined;
  EXPECT_EQ(field(joined.doc, "org_unit_id"), g1east_);
  const Reply yard = call("POST", "/api/v1/org-units", cadre, {{"name", "西院"}, {"parent_id", g1_}});
  EXPECT_EQ(yard.status, 201) << yard;
  EXPECT_TRUE(is_success(call("POST", person_path(p1_) + "/roles", cadre, {{"role", "party_member"}}).status));

  const std::string before = snapshot();
  EXPECT_TRUE(is_error(call("PUT", person_path(p3_), cadre, {{"name", "李四四"}}), 403, "out_of_scope"));
  EXPECT_TRUE(is_error(call("DELETE", person_path(p3_), cadre), 403, "out_of_scope"));
  EXPECT_TRUE(
      is_error(call("POST", person_path(p3_) + "/roles", cadre, {{"role", "party_member"}}), 403, "out_of_scope"));
  EXPECT_TRUE(is_error(call("PUT", person_path(p4_) + "/identities/wecom", cadre, {{"external_id", "wx-x"}}), 403,
                       "out_of_scope"));
  EXPECT_TRUE(is_error(call("DELETE", person_path(p4_) + "/identities/wecom", cadre), 403, "out_of_scope"));
  EXPECT_TRUE(is_error(call("PUT", household_path(h2_), cadre, {{"head_name", "李"}}), 403, "out_of_scope"));
  EXPECT_TRUE(is_error(call("PUT", unit_path(g2_), cadre, {{"name", "第二组"}}), 403, "out_of_scope"));
  // Moving something out of the scope, or placing something outside.
  EXPECT_TRUE(is_error(call("PUT", person_path(p1_), cadre, {{"household_id", h2_}}), 403, "out_of_scope"));
  EXPECT_TRUE(is_error(call("PUT", person_path(p1_), cadre, {{"org_unit_id", g2_}}), 422, "invalid"))
      << "a person lives in their household's unit: only the household moves";
  EXPECT_TRUE(is_error(call("PUT", household_path(h1_), cadre, {{"org_unit_id", g2_}}), 403, "out_of_scope"));
  EXPECT_TRUE(is_error(call("PUT", unit_path(g1east_), cadre, {{"parent_id", g2_}}), 403, "out_of_scope"));
  EXPECT_TRUE(is_error(
      call("POST", "/api/v1/persons", cadre, {{"name", "外人"}, {"phone", "13800000032"}, {"household_id", h2_}}), 403,
      "out_of_scope"));
  EXPECT_TRUE(
      is_error(call("POST", "/api/v1/persons", cadre,
                    {{"name", "外人"}, {"phone", "13800000033"}, {"household_id", h1_}, {"org_unit_id", root_}}),
               422, "invalid"))
      << "a person cannot be placed outside their household's unit";
  EXPECT_TRUE(is_error(call("POST", "/api/v1/households", cadre, {{"code", "H020"}, {"org_unit_id", g2_}}), 403,
                       "out_of_scope"));
  EXPECT_TRUE(
      is_error(call("POST", "/api/v1/org-units", cadre, {{"name", "新院"}, {"parent_id", g2_}}), 403, "out_of_scope"));
  EXPECT_TRUE(is_error(call("DELETE", household_path(h4_), cadre), 403, "out_of_scope"));
  EXPECT_EQ(snapshot(), before) << "nothing outside the scope changed";
  EXPECT_EQ(field(get(person_path(p1_), admin_).doc, "household_id"), h1_);
  EXPECT_EQ(field(get(person_path(p3_), admin_).doc, "name"), json("李四"));

  const json entries = audit_entries("actor=" + url_encode("一组王小红"));
  ASSERT_FALSE(entries.empty()) << "the cadre's changes are audited under her token's name";
  for (const auto& e : entries) {
    EXPECT_EQ(field(e, "actor"), json("一组王小红")) << e;
    EXPECT_EQ(field(e, "actor_role"), json("cadre")) << e;
  }
}

TEST_F(AdminApi, ACadreWithoutAPersonOrUnitsHasTheWholeVillage) {
  const std::string unbound = token("全村干部", "cadre");
  const std::string no_units = token("李四干部", "cadre", p3_);  // 李四 answers for no unit
  for (const std::string& tok : {unbound, no_units}) {
    EXPECT_EQ(get(person_path(p9_), tok).status, 200);
    EXPECT_EQ(get(household_path(h4_), tok).status, 200);
    EXPECT_EQ(field(get("/api/v1/persons", tok).doc, "total"), 5);
    EXPECT_EQ(field(get("/api/v1/households", tok).doc, "total"), 4);
  }
  const Reply changed = call("PUT", person_path(p9_), unbound, {{"lang", "en"}});
  ASSERT_EQ(changed.status, 200) << changed;
  EXPECT_EQ(field(changed.doc, "lang"), json("en"));
  EXPECT_EQ(
      call("POST", "/api/v1/persons", no_units, {{"name", "新人"}, {"phone", "13800000034"}, {"household_id", h2_}})
          .status,
      201);
}

TEST_F(AdminApi, ACadreCannotGrantOrRemoveAdminOrSupervisor) {
  const std::string cadre = token("全村干部", "cadre");
  const std::string before = snapshot();
  for (const std::string role : {"admin", "supervisor"}) {
    SCOPED_TRACE(role);
    EXPECT_TRUE(is_error(call("POST", person_path(p1_) + "/roles", cadre, {{"role", role}}), 403));
    EXPECT_TRUE(is_error(call("PUT", person_path(p1_), cadre, {{"roles", json::array({role})}}), 403));
    EXPECT_TRUE(is_error(
        call("POST", "/api/v1/persons", cadre,
             {{"name", "新官"}, {"phone", "13800000035"}, {"household_id", h1_}, {"roles", json::array({role})}}),
        403));
  }
  EXPECT_TRUE(is_error(call("DELETE", person_path(p9_) + "/roles/admin", cadre), 403));
  EXPECT_TRUE(is_error(call("PUT", person_path(p9_), cadre, {{"roles", json::array({"villager"})}}), 403))
      << "replacing 钱七's roles would remove admin";
  EXPECT_EQ(snapshot(), before);
  EXPECT_THAT(strings_in(field(get(person_path(p9_), admin_).doc, "roles")), ::testing::Contains("admin"));

  const Reply party = call("POST", person_path(p1_) + "/roles", cadre, {{"role", "party_member"}});
  EXPECT_TRUE(is_success(party.status)) << "other roles are a cadre's to grant: " << party;
  EXPECT_TRUE(is_success(call("PUT", person_path(p9_), cadre, {{"name", "钱七七"}}).status))
      << "an admin's other fields are within a whole-village scope";
}

TEST_F(AdminApi, ACadreCannotReadTheAuditLogOrManageTokens) {
  for (const std::string& cadre : {token("全村干部", "cadre"), token("一组王小红", "cadre", p2_)}) {
    EXPECT_TRUE(is_error(get("/api/v1/audit", cadre), 403, "forbidden"));
    EXPECT_TRUE(is_error(get("/api/v1/tokens", cadre), 403, "forbidden"));
    EXPECT_TRUE(
        is_error(call("POST", "/api/v1/tokens", cadre, {{"name", "偷偷"}, {"role", "admin"}}), 403, "forbidden"));
    EXPECT_TRUE(is_error(call("DELETE", "/api/v1/tokens/" + url_encode(kAdminName), cadre), 403, "forbidden"));
  }
  EXPECT_EQ(get("/api/v1/me", admin_).status, 200) << "the admin token was not revoked";
  EXPECT_EQ(server_.runtime().tokens().list().size(), 3U) << "no token was created";
}

TEST_F(AdminApi, CsvImportIsForAdminsAndWholeVillageCadres) {
  const std::string csv = "户号,户主,姓名,手机,村民小组\nH020,孙大,孙大,13800000041,一组/东院\n";
  const std::string before = snapshot();
  const Reply scoped = raw("POST", "/api/v1/import/people", token("一组王小红", "cadre", p2_), csv, "text/csv");
  EXPECT_TRUE(is_error(scoped, 403)) << "import is village-wide, even for rows inside her unit";
  EXPECT_EQ(snapshot(), before);
  const Reply whole = raw("POST", "/api/v1/import/people", token("全村干部", "cadre"), csv, "text/csv");
  ASSERT_EQ(whole.status, 200) << whole;
  EXPECT_EQ(field(whole.doc, "applied"), true);
  EXPECT_EQ(persons(), 6);
}

TEST_F(AdminApi, AScopedCadresAudienceAndExportAreCutToHerScope) {
  const std::string cadre = token("一组王小红", "cadre", p2_);
  Ids inside{p1_, p2_};
  std::sort(inside.begin(), inside.end());
  EXPECT_EQ(audience(cadre, {{"everyone", true}}), inside);
  EXPECT_EQ(audience(cadre, {{"org_units", json::array({g2_})}}), Ids{});
  EXPECT_EQ(audience(cadre, {{"central_households", json::array({h1_})}}), inside);

  const Reply csv = get("/api/v1/export/people", cadre);
  ASSERT_EQ(csv.status, 200) << csv;
  EXPECT_THAT(csv.body, HasSubstr("13800000001"));
  EXPECT_THAT(csv.body, HasSubstr("13800000002"));
  for (const char* outside : {"13800000003", "13800000004", "13800000009"})
    EXPECT_THAT(csv.body, Not(HasSubstr(outside))) << "exports only contain what is inside";
}

// ---------------------------------------------------------------------------
// The supervisor: reads everything with phones masked, changes nothing

TEST_F(AdminApi, ASupervisorReadsEverythingWithPhonesMasked) {
  ASSERT_EQ(call("PUT", person_path(p1_), admin_, {{"name", "王大山山"}}).status, 200);  // an audit entry with phones
  const std::string sup = token("监督员甲", "supervisor");

  const Reply people = get("/api/v1/persons", sup);
  ASSERT_EQ(people.status, 200) << people;
  EXPECT_EQ(field(people.doc, "total"), 5) << "a supervisor reads everything";
  EXPECT_TRUE(has_no_full_phone(people.body));
  for (const auto& p : items_of(people)) {
    const std::string phone = field(p, "phone").is_string() ? field(p, "phone").get<std::string>() : "";
    EXPECT_THAT(phone, HasSubstr("****")) << p;
  }
  const Reply one = get(person_path(p1_), sup);
  ASSERT_EQ(one.status, 200) << one;
  EXPECT_TRUE(has_no_full_phone(one.body));
  EXPECT_THAT(field(one.doc, "phone").dump(), ::testing::AllOf(HasSubstr("138****"), HasSubstr("0001")))
      << "masked like 138****0001";
  EXPECT_EQ(field(one.doc, "phone"), json("138****0001")) << "the masked form of docs/API.md";
  EXPECT_TRUE(has_no_full_phone(get("/api/v1/persons?q=13800000001", sup).body));
  EXPECT_TRUE(has_no_full_phone(get(person_path(p4_) + "/identities", sup).body));

  for (const std::string path : {"/api/v1/households", "/api/v1/org-units", "/api/v1/roles", "/api/v1/me"}) {
    const Reply r = get(path, sup);
    EXPECT_EQ(r.status, 200) << path << ": " << r;
    EXPECT_TRUE(has_no_full_phone(r.body)) << path;
  }
  EXPECT_EQ(field(get("/api/v1/households", sup).doc, "total"), 4);
  EXPECT_EQ(get(household_path(h4_), sup).status, 200);
  EXPECT_EQ(get(unit_path(g3_), sup).status, 200);

  const Reply audit = get("/api/v1/audit", sup);
  ASSERT_EQ(audit.status, 200) << "the supervisor reads the audit log: " << audit;
  ASSERT_FALSE(items_of(audit).empty()) << audit;
  EXPECT_TRUE(has_no_full_phone(audit.body)) << "phones are masked inside audit entries too";
  const json first = items_of(audit)[0];
  EXPECT_EQ(field(first, "action"), json("person.update")) << first;
  EXPECT_EQ(field(field(first, "after"), "name"), json("王大山山")) << first;

  const Reply csv = get("/api/v1/export/people", sup);
  if (csv.status == 200) {
    EXPECT_TRUE(has_no_full_phone(csv.body)) << "an export to a supervisor is masked";
  }
}

TEST_F(AdminApi, ASupervisorChangesNothing) {
  const std::string sup = token("监督员甲", "supervisor", p9_);
  const std::string before = snapshot();
  const std::vector<std::tuple<std::string, std::string, std::string>> changes = {
      {"POST", "/api/v1/persons", R"({"name":"某","phone":"13800000041"})"},
      {"PUT", person_path(p1_), R"({"name":"改"})"},
      {"DELETE", person_path(p3_), ""},
      {"POST", person_path(p1_) + "/roles", R"({"role":"party_member"})"},
      {"DELETE", person_path(p4_) + "/roles/commander", ""},
      {"PUT", person_path(p1_) + "/identities/wecom", R"({"external_id":"wx-sup"})"},
      {"DELETE", person_path(p4_) + "/identities/wecom", ""},
      {"POST", "/api/v1/org-units", R"({"name":"五组"})"},
      {"PUT", unit_path(g2_), R"({"name":"第二组"})"},
      {"DELETE", unit_path(g3_), ""},
      {"POST", "/api/v1/households", R"({"code":"H020"})"},
      {"PUT", household_path(h2_), R"({"head_name":"某"})"},
      {"DELETE", household_path(h4_), ""},
      {"POST", "/api/v1/tokens", R"({"name":"sup-made","role":"admin"})"},
      {"DELETE", "/api/v1/tokens/" + url_encode(kAdminName), ""},
  };
  for (const auto& [method, path, body] : changes) {
    SCOPED_TRACE(method + " " + path);
    EXPECT_TRUE(is_error(raw(method, path, sup, body), 403));
  }
  EXPECT_TRUE(is_error(
      raw("POST", "/api/v1/import/people", sup, "户号,户主,姓名,手机\nH020,某,某,13800000041\n", "text/csv"), 403));
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(server_.runtime().tokens().list().size(), 2U);
  EXPECT_EQ(get("/api/v1/me", admin_).status, 200);
}

// ---------------------------------------------------------------------------
// The audit log

TEST_F(AdminApi, EveryChangeIsAuditedWithActorActionAndBeforeAfter) {
  // One of each kind of change, through the API.
  const Reply unit = call("POST", "/api/v1/org-units", admin_, {{"name", "北院"}, {"parent_id", g1_}});
  ASSERT_EQ(unit.status, 201) << unit;
  const std::int64_t u = id_of(unit.doc);
  ASSERT_EQ(call("PUT", unit_path(u), admin_, {{"name", "南院"}}).status, 200);
  const Reply home =
      call("POST", "/api/v1/households", admin_, {{"code", "H030"}, {"head_name", "甲"}, {"org_unit_id", u}});
  ASSERT_EQ(home.status, 201) << home;
  const std::int64_t h = id_of(home.doc);
  ASSERT_EQ(call("PUT", household_path(h), admin_, {{"head_name", "乙"}}).status, 200);
  const Reply person =
      call("POST", "/api/v1/persons", admin_, {{"name", "丙"}, {"phone", "13800000051"}, {"household_id", h}});
  ASSERT_EQ(person.status, 201) << person;
  const std::int64_t p = id_of(person.doc);
  ASSERT_EQ(call("PUT", person_path(p), admin_, {{"name", "丁"}}).status, 200);
  ASSERT_TRUE(is_success(call("POST", person_path(p) + "/roles", admin_, {{"role", "party_member"}}).status));
  ASSERT_TRUE(is_success(call("DELETE", person_path(p) + "/roles/party_member", admin_).status));
  ASSERT_TRUE(
      is_success(call("PUT", person_path(p) + "/identities/feishu", admin_, {{"external_id", "fs-51"}}).status));
  ASSERT_TRUE(is_success(call("DELETE", person_path(p) + "/identities/feishu", admin_).status));
  ASSERT_TRUE(is_success(call("DELETE", person_path(p), admin_).status));
  ASSERT_TRUE(is_success(call("DELETE", household_path(h), admin_).status));
  ASSERT_TRUE(is_success(call("DELETE", unit_path(u), admin_).status));
  ASSERT_EQ(call("POST", "/api/v1/tokens", admin_, {{"name", "临时"}, {"role", "cadre"}}).status, 201);
  ASSERT_TRUE(is_success(call("DELETE", "/api/v1/tokens/" + url_encode("临时"), admin_).status));

  auto check_entry = [&](const json& e) {
    EXPECT_EQ(field(e, "actor"), kAdminName) << e;
    EXPECT_EQ(field(e, "actor_role"), json("admin")) << e;
    EXPECT_EQ(field(e, "via"), json("api")) << e;
    EXPECT_TRUE(field(e, "at_ms").is_number_integer() && field(e, "at_ms") > 1700000000000LL) << e;
    EXPECT_GT(id_of(e), 0) << e;
  };
  auto entries_for = [&](const std::string& entity, std::int64_t id) {
    return audit_entries("entity=" + entity + "&entity_id=" + std::to_string(id));
  };
  auto actions = [](const json& entries) {
    std::vector<std::string> out;
    for (const auto& e : entries)
      out.push_back(field(e, "action").is_string() ? field(e, "action").get<std::string>() : "?");
    return out;
  };

  // Org unit: newest first.
  const json unit_log = entries_for("org_unit", u);
  ASSERT_EQ(actions(unit_log), (std::vector<std::string>{"org_unit.delete", "org_unit.update", "org_unit.create"}))
      << unit_log;
  for (const auto& e : unit_log) {
    check_entry(e);
    EXPECT_EQ(field(e, "entity"), json("org_unit"));
    EXPECT_EQ(field(e, "entity_id"), std::to_string(u));
  }
  EXPECT_TRUE(field(unit_log[2], "before").is_null()) << "nothing before a create";
  EXPECT_EQ(field(field(unit_log[2], "after"), "path"), json("一组/北院"));
  EXPECT_EQ(field(field(unit_log[1], "before"), "name"), json("北院"));
  EXPECT_EQ(field(field(unit_log[1], "after"), "name"), json("南院"));
  EXPECT_EQ(field(field(unit_log[0], "before"), "name"), json("南院"));
  EXPECT_TRUE(field(unit_log[0], "after").is_null()) << "nothing after a delete";

  const json home_log = entries_for("household", h);
  ASSERT_GE(home_log.size(), 3U) << home_log;
  EXPECT_EQ(field(home_log[0], "action"), json("household.delete"));
  EXPECT_EQ(field(home_log.back(), "action"), json("household.create"));
  EXPECT_TRUE(field(home_log.back(), "before").is_null());
  EXPECT_EQ(field(field(home_log.back(), "after"), "code"), json("H030"));
  EXPECT_TRUE(field(home_log[0], "after").is_null());
  bool saw_head_change = false;
  for (const auto& e : home_log) {
    check_entry(e);
    if (field(e, "action") == "household.update" && field(field(e, "before"), "head_name") == "甲" &&
        field(field(e, "after"), "head_name") == "乙")
      saw_head_change = true;
  }
  EXPECT_TRUE(saw_head_change) << home_log;

  const json person_log = entries_for("person", p);
  ASSERT_GE(person_log.size(), 7U) << "create, update, 2 role and 2 identity changes, delete: " << person_log;
  EXPECT_EQ(field(person_log.back(), "action"), json("person.create"));
  EXPECT_TRUE(field(person_log.back(), "before").is_null());
  EXPECT_EQ(field(field(person_log.back(), "after"), "name"), json("丙"));
  EXPECT_EQ(field(person_log[0], "action"), json("person.delete"));
  EXPECT_EQ(field(field(person_log[0], "before"), "name"), json("丁"));
  EXPECT_TRUE(field(person_log[0], "after").is_null());
  int renames = 0, role_changes = 0, identity_changes = 0;
  for (const auto& e : person_log) {
    check_entry(e);
    EXPECT_THAT(field(e, "action").get<std::string>(), StartsWith("person.")) << e;
    const std::string before = field(e, "before").dump();
    const std::string after = field(e, "after").dump();
    if (field(field(e, "before"), "name") == "丙" && field(field(e, "after"), "name") == "丁") ++renames;
    if ((before.find("party_member") == std::string::npos) != (after.find("party_member") == std::string::npos))
      ++role_changes;
    if ((before.find("fs-51") == std::string::npos) != (after.find("fs-51") == std::string::npos)) ++identity_changes;
  }
  EXPECT_EQ(renames, 1) << person_log;
  EXPECT_EQ(role_changes, 2) << "the role added and removed: " << person_log;
  EXPECT_GE(identity_changes, 2) << "the identity set and removed (and the delete): " << person_log;

  const json token_log = audit_entries("entity=token");
  ASSERT_EQ(actions(token_log), (std::vector<std::string>{"token.revoke", "token.create"})) << token_log;
  for (const auto& e : token_log) check_entry(e);
  EXPECT_THAT(token_log.dump(), Not(HasSubstr("vb_"))) << "the token itself is never logged";

  // Newest first, filters, and a refused request leaves no entry.
  const json all = audit_entries();
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(field(all[0], "action"), json("token.revoke"));
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_GT(id_of(all[i - 1]), id_of(all[i])) << "newest first";
  const json updates = audit_entries("action=person.update");
  ASSERT_FALSE(updates.empty());
  for (const auto& e : updates) EXPECT_EQ(field(e, "action"), json("person.update")) << e;
  EXPECT_EQ(audit_entries("actor=" + url_encode("没有这个人")), json::array());
  const std::int64_t rows = audit_rows();
  EXPECT_EQ(call("POST", "/api/v1/persons", admin_, {{"name", "重号"}, {"phone", "13800000001"}, {"household_id", h1_}})
                .status,
            409);
  EXPECT_EQ(call("DELETE", household_path(h1_), admin_).status, 409);
  EXPECT_EQ(audit_rows(), rows) << "a refused change is not logged";
  EXPECT_EQ(server_.count("SELECT COUNT(*) FROM core_audit_log WHERE via = 'api' AND actor = '" +
                          std::string(kAdminName) + "' AND actor_role = 'admin'"),
            server_.count("SELECT COUNT(*) FROM core_audit_log WHERE via = 'api'"))
      << "every API entry of this test is the admin token's";
}

// A cadre token acts for a person; deleting the person revokes it rather than leaving a token
// with no person, which would reach the whole village.
TEST_F(AdminApi, DeletingAPersonRevokesTheTokensThatActForThem) {
  const Reply created = call("POST", "/api/v1/persons", admin_,
                             {{"name", "吴十"}, {"phone", "13800000012"}, {"household_id", h2_}, {"roles", {"cadre"}}});
  ASSERT_EQ(created.status, 201) << created;
  const std::int64_t id = id_of(created.doc);
  ASSERT_EQ(call("PUT", unit_path(g3_), admin_, {{"responsible_person_id", id}}).status, 200);
  const std::string scoped = token("cadre-of-g3", "cadre", id);
  const Reply me = call("GET", "/api/v1/me", scoped);
  ASSERT_EQ(me.status, 200) << me;
  EXPECT_EQ(field(me.doc, "scope")["whole_village"], false);
  ASSERT_TRUE(is_success(call("DELETE", person_path(id), admin_).status));
  EXPECT_TRUE(is_error(call("GET", "/api/v1/me", scoped), 401)) << "revoked, not widened to the whole village";
  EXPECT_TRUE(is_error(call("GET", "/api/v1/persons", scoped), 401));
}

TEST_F(AdminApi, TheAuditLogCannotBeRewrittenOrDeleted) {
  ASSERT_EQ(call("PUT", person_path(p1_), admin_, {{"name", "王大山山"}}).status, 200);
  ASSERT_EQ(call("PUT", person_path(p1_), admin_, {{"name", "王大山"}}).status, 200);
  auto dump_log = [&] {
    return server_.runtime().storage().read([](Session& s) {
      std::string out;
      for (const Row& r : s.query("SELECT id, at_ms, actor, action, entity, entity_id, before, after "
                                  "FROM core_audit_log ORDER BY id"))
        for (std::size_t i = 0; i < r.size(); ++i) out += r.text(i) + "|";
      return out;
    });
  };
  const std::int64_t rows = audit_rows();
  ASSERT_GE(rows, 2);
  const std::string log = dump_log();

  // Through the server's own storage.
  EXPECT_THROW(
      server_.runtime().storage().write([](Session& s) { s.execute("UPDATE core_audit_log SET actor = 'mallory'"); }),
      StorageError);
  EXPECT_THROW(server_.runtime().storage().write([](Session& s) { s.execute("DELETE FROM core_audit_log"); }),
               StorageError);
  EXPECT_THROW(server_.runtime().storage().write([](Session& s) {
    s.execute("UPDATE core_audit_log SET after = NULL WHERE id = (SELECT MAX(id) FROM core_audit_log)");
  }),
               StorageError);

  // Through a separate SQLite connection to the file.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(server_.db_path().c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  sqlite3_busy_timeout(db, 10000);
  for (const char* sql : {"UPDATE core_audit_log SET actor = 'mallory'", "DELETE FROM core_audit_log",
                          "DELETE FROM core_audit_log WHERE id = 1"}) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_CONSTRAINT) << sql << ": " << (error != nullptr ? error : "no error");
    sqlite3_free(error);
  }
  sqlite3_close(db);

  EXPECT_EQ(audit_rows(), rows);
  EXPECT_EQ(dump_log(), log) << "the rows stay as they were";
  const json entries = audit_entries();
  ASSERT_FALSE(entries.empty());
  EXPECT_EQ(field(entries[0], "actor"), kAdminName);
}

// ---------------------------------------------------------------------------
// Hostile text is just text

const std::vector<std::string> kHostile = {
    "Robert'); DROP TABLE core_persons;--",
    "<script>alert(1)</script>",
    "\"; --",
    "😀👍🏽 村民",
    "王小明（测试）",
    "' OR '1'='1",
    "100% _under_ \\back\\slash",
};

TEST_F(AdminApi, HostileTextIsStoredAndReturnedVerbatimInEveryField) {
  Ids created_persons;
  for (std::size_t i = 0; i < kHostile.size(); ++i) {
    const std::string& s = kHostile[i];
    SCOPED_TRACE(s);
    const std::string suffix = std::to_string(i);

    std::string unit_name = s;  // a unit name may not contain '/'
    std::replace(unit_name.begin(), unit_name.end(), '/', '|');
    const Reply unit = call("POST", "/api/v1/org-units", admin_, {{"name", unit_name}});
    ASSERT_EQ(unit.status, 201) << unit;
    EXPECT_EQ(field(unit.doc, "name"), unit_name);
    EXPECT_EQ(field(unit.doc, "path"), unit_name);
    EXPECT_EQ(field(get(unit_path(id_of(unit.doc)), admin_).doc, "name"), unit_name);

    const Reply home = call("POST", "/api/v1/households", admin_,
                            {{"code", s}, {"head_name", s + suffix}, {"org_unit_id", id_of(unit.doc)}});
    ASSERT_EQ(home.status, 201) << home;
    const std::int64_t h = id_of(home.doc);
    const Reply home_read = get(household_path(h), admin_);
    EXPECT_EQ(field(home_read.doc, "code"), s);
    EXPECT_EQ(field(home_read.doc, "head_name"), s + suffix);

    const Reply person =
        call("POST", "/api/v1/persons", admin_, {{"name", s}, {"phone", "1380000002" + suffix}, {"household_id", h}});
    ASSERT_EQ(person.status, 201) << person;
    const std::int64_t p = id_of(person.doc);
    created_persons.push_back(p);
    const Reply person_read = get(person_path(p), admin_);
    EXPECT_EQ(field(person_read.doc, "name"), s);
    EXPECT_EQ(field(person_read.doc, "household_code"), s);
    EXPECT_EQ(field(person_read.doc, "org_unit_path"), unit_name);

    std::string chat_id = s;  // chat ids are one word
    std::erase(chat_id, ' ');
    const Reply identity = call("PUT", person_path(p) + "/identities/telegram", admin_, {{"external_id", chat_id}});
    ASSERT_TRUE(is_success(identity.status)) << identity;
    EXPECT_EQ(field(field(get(person_path(p), admin_).doc, "identities"), "telegram"), chat_id);
    auto by_chat = server_.runtime().directory().find_by_identity("telegram", chat_id);
    ASSERT_TRUE(by_chat.has_value());
    EXPECT_EQ(by_chat->id, p);

    const Reply tok = call("POST", "/api/v1/tokens", admin_, {{"name", s}, {"role", "cadre"}});
    ASSERT_EQ(tok.status, 201) << tok;
    EXPECT_EQ(field(tok.doc, "name"), s);
    const std::string issued = field(tok.doc, "token").is_string() ? field(tok.doc, "token").get<std::string>() : "";
    EXPECT_EQ(field(get("/api/v1/me", issued).doc, "name"), s);
    const Reply revoked = call("DELETE", "/api/v1/tokens/" + url_encode(s), admin_);
    EXPECT_EQ(revoked.status, 200) << revoked;
    EXPECT_EQ(field(revoked.doc, "revoked"), true);
    EXPECT_EQ(get("/api/v1/me", issued).status, 401);
  }

  // Search treats the text as text: no SQL, no LIKE wildcards.
  const Reply robert = get("/api/v1/persons?q=" + url_encode("Robert'); DROP"), admin_);
  EXPECT_EQ(ids_in(items_of(robert)), Ids{created_persons[0]}) << robert;
  const Reply quote = get("/api/v1/persons?q=" + url_encode("' OR '1'='1"), admin_);
  EXPECT_EQ(ids_in(items_of(quote)), Ids{created_persons[5]}) << quote;
  const Reply percent = get("/api/v1/persons?q=" + url_encode("%"), admin_);
  EXPECT_EQ(ids_in(items_of(percent)), Ids{created_persons[6]}) << "% is a character, not a wildcard: " << percent;
  const Reply underscore = get("/api/v1/households?q=" + url_encode("_under_"), admin_);
  EXPECT_EQ(items_of(underscore).size(), 1U) << underscore;

  // The tables are all still there and hold everyone.
  EXPECT_EQ(server_.count("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('core_persons', "
                          "'core_households', 'core_org_units', 'core_identities', 'core_tokens', 'core_audit_log')"),
            6);
  EXPECT_EQ(persons(), 5 + static_cast<std::int64_t>(kHostile.size()));
  EXPECT_EQ(field(get("/api/v1/persons", admin_).doc, "total"), 5 + static_cast<std::int64_t>(kHostile.size()));
  const json created_log = audit_entries("action=person.create");
  ASSERT_EQ(created_log.size(), kHostile.size());
  EXPECT_EQ(field(field(created_log.back(), "after"), "name"), kHostile[0]) << "the audit log keeps it verbatim too";

  // The export quotes it so that importing it again changes nothing.
  const Reply csv = get("/api/v1/export/people", admin_);
  ASSERT_EQ(csv.status, 200) << csv;
  const std::string before = snapshot();
  const Reply again = raw("POST", "/api/v1/import/people", admin_, csv.body, "text/csv; charset=utf-8");
  ASSERT_EQ(again.status, 200) << again;
  EXPECT_EQ(field(again.doc, "applied"), false) << again;
  EXPECT_EQ(snapshot(), before);
}

TEST_F(AdminApi, InvalidUtf8IsRefusedWith400AndChangesNothing) {
  const std::string before = snapshot();
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"POST /api/v1/persons", "{\"name\":\"\xff\xfe\",\"phone\":\"13800000061\"}"},
      {"PUT " + person_path(p1_), "{\"name\":\"\xc3\x28\"}"},
      {"POST /api/v1/households", "{\"code\":\"H\xe4\xb8\",\"head_name\":\"x\"}"},
      {"POST /api/v1/org-units", "{\"name\":\"\xc0\xaf\"}"},
      {"PUT " + person_path(p1_) + "/identities/wecom", "{\"external_id\":\"\xed\xa0\x80\"}"},
      {"POST /api/v1/tokens", "{\"name\":\"\xf8\x88\x80\x80\x80\",\"role\":\"cadre\"}"},
      {"POST /api/v1/persons", "{\"name\":\"王\x80\",\"phone\":\"13800000062\"}"},
  };
  for (const auto& [route, body] : bad) {
    const auto space = route.find(' ');
    SCOPED_TRACE(route);
    EXPECT_TRUE(is_error(raw(route.substr(0, space), route.substr(space + 1), admin_, body), 400, "bad_request"));
  }
  const Reply csv = raw("POST", "/api/v1/import/people", admin_,
                        "户号,户主,姓名,手机\nH020,\xff\xfe\xfd,\xc3\x28,13800000063\n", "text/csv");
  EXPECT_TRUE(status_in(csv, {400, 422})) << "an unreadable file is refused";
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(server_.runtime().tokens().list().size(), 1U);
  EXPECT_EQ(field(get(person_path(p1_), admin_).doc, "name"), json("王大山"));
}

// ---------------------------------------------------------------------------
// Audiences

TEST_F(AdminApi, AudiencesResolveUnitsRolesHouseholdsCentralHouseholdsAndExclusions) {
  auto sorted = [](Ids ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  const Ids everyone = sorted({p1_, p2_, p3_, p4_, p9_});
  EXPECT_EQ(audience(admin_, {{"everyone", true}}), everyone);
  EXPECT_EQ(audience(admin_, {{"org_units", json::array({g1_})}}), sorted({p1_, p2_})) << "a unit with its subtree";
  EXPECT_EQ(audience(admin_, {{"org_units", json::array({root_})}}), everyone);
  EXPECT_EQ(audience(admin_, {{"org_units", json::array({g2_, g3_})}}), sorted({p3_, p4_, p9_}));
  EXPECT_EQ(audience(admin_, {{"roles", json::array({"emergency_team"})}}), Ids{p4_});
  EXPECT_EQ(audience(admin_, {{"roles", json::array({"cadre", "evaluator"})}}), sorted({p2_, p3_}));
  EXPECT_EQ(audience(admin_, {{"households", json::array({h2_})}}), Ids{p3_});
  EXPECT_EQ(audience(admin_, {{"central_households", json::array({h1_})}}), sorted({p1_, p2_, p3_, p4_}))
      << "一户十联: H001 and the households linked to it";
  EXPECT_EQ(audience(admin_, {{"persons", json::array({p9_, p1_})}}), sorted({p1_, p9_}));
  EXPECT_EQ(audience(admin_, {{"everyone", true}, {"only_roles", json::array({"cadre", "admin"})}}),
            sorted({p2_, p9_}));
  EXPECT_EQ(audience(admin_, {{"org_units", json::array({g1_})}, {"only_roles", json::array({"party_member"})}}),
            Ids{});
  EXPECT_EQ(audience(admin_, {{"everyone", true}, {"exclude", {{"org_units", json::array({g2_})}}}}),
            sorted({p1_, p2_, p9_}));
  EXPECT_EQ(
      audience(
          admin_,
          {{"everyone", true},
           {"exclude",
            {{"roles", json::array({"cadre"})}, {"households", json::array({h3_})}, {"persons", json::array({p9_})}}}}),
      sorted({p1_, p3_}));
  EXPECT_EQ(audience(admin_, {{"org_units", json::array({g1_})},
                              {"roles", json::array({"commander"})},
                              {"only_roles", json::array({"villager"})},
                              {"exclude", {{"persons", json::array({p1_})}}}}),
            sorted({p2_, p4_}));
  const json full = {{"org_units", json::array({g1_})},
                     {"roles", json::array()},
                     {"households", json::array()},
                     {"central_households", json::array()},
                     {"persons", json::array()},
                     {"everyone", false},
                     {"only_roles", json::array({"cadre"})},
                     {"exclude",
                      {{"org_units", json::array()},
                       {"roles", json::array()},
                       {"households", json::array()},
                       {"persons", json::array()}}}};
  EXPECT_EQ(audience(admin_, full), Ids{p2_}) << "the document's full form";
  EXPECT_EQ(audience(token("全村干部", "cadre"), {{"everyone", true}}), everyone) << "a whole-village cadre";
  EXPECT_EQ(audience(token("监督员", "supervisor"), {{"roles", json::array({"cadre"})}}), Ids{p2_})
      << "a supervisor reads everything";
}

// ---------------------------------------------------------------------------
// CSV import and export

constexpr const char* kNewPeopleCsv =
    "户号,户主,姓名,手机,村民小组,角色\n"
    "H010,孙大,孙大,13800000041,四组,村民\n"
    "H010,孙大,孙二,13800000042,四组,党员\n";

TEST_F(AdminApi, ADryRunImportReportsAndWritesNothing) {
  const std::string before = snapshot();
  const Reply r = raw("POST", "/api/v1/import/people?dry_run=true", admin_, kNewPeopleCsv, "text/csv; charset=utf-8");
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_EQ(field(r.doc, "dry_run"), true);
  EXPECT_EQ(field(r.doc, "applied"), false);
  EXPECT_EQ(field(r.doc, "rows"), 2);
  EXPECT_EQ(field(r.doc, "persons_created"), 2);
  EXPECT_EQ(field(r.doc, "households_created"), 1);
  EXPECT_EQ(field(r.doc, "org_units_created"), 1);
  EXPECT_EQ(field(r.doc, "problems"), json::array());
  EXPECT_EQ(snapshot(), before) << "a dry run writes nothing, not even an audit entry";
  EXPECT_EQ(field(get("/api/v1/persons?q=13800000041", admin_).doc, "total"), 0);
}

TEST_F(AdminApi, AnImportWithABadPhoneIsRefusedNamingTheLine) {
  const std::string csv = std::string(kNewPeopleCsv) + "H011,周大,周大,1380000004,四组,村民\n";  // line 4: 10 digits
  const std::string before = snapshot();
  const Reply r = raw("POST", "/api/v1/import/people", admin_, csv, "text/csv");
  ASSERT_EQ(r.status, 422) << r;
  EXPECT_EQ(field(r.doc, "applied"), false);
  bool named = false;
  for (const auto& problem : field(r.doc, "problems"))
    if (field(problem, "line") == 4 && field(problem, "column") == "手机") named = true;
  EXPECT_TRUE(named) << "the problem names line 4, column 手机: " << r;
  EXPECT_EQ(snapshot(), before) << "all or nothing";

  const Reply skipping = raw("POST", "/api/v1/import/people?skip_bad=true", admin_, csv, "text/csv");
  ASSERT_EQ(skipping.status, 200) << skipping;
  EXPECT_EQ(field(skipping.doc, "applied"), true);
  EXPECT_EQ(field(skipping.doc, "persons_created"), 2);
  EXPECT_FALSE(field(skipping.doc, "problems").empty()) << "the bad row is still reported";
  EXPECT_EQ(persons(), 7);
}

TEST_F(AdminApi, AnImportCreatesThePeopleAndIsAudited) {
  const Reply r = raw("POST", "/api/v1/import/people", admin_, std::string(kBom) + kNewPeopleCsv, "text/csv");
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_EQ(field(r.doc, "applied"), true);
  EXPECT_EQ(field(r.doc, "dry_run"), false);
  EXPECT_EQ(field(r.doc, "rows"), 2);
  EXPECT_EQ(field(r.doc, "persons_created"), 2);
  EXPECT_EQ(field(r.doc, "households_created"), 1);
  EXPECT_EQ(field(r.doc, "org_units_created"), 1);

  const Reply sun = get("/api/v1/persons?q=13800000042", admin_);
  ASSERT_EQ(items_of(sun).size(), 1U) << sun;
  const json p = items_of(sun)[0];
  EXPECT_EQ(field(p, "name"), json("孙二"));
  EXPECT_EQ(field(p, "household_code"), json("H010"));
  EXPECT_EQ(field(p, "org_unit_path"), json("四组"));
  EXPECT_THAT(strings_in(field(p, "roles")), UnorderedElementsAre("villager", "party_member"));
  EXPECT_EQ(field(get("/api/v1/persons", admin_).doc, "total"), 7);
  auto bot = server_.runtime().directory().find_by_phone("+8613800000041");
  ASSERT_TRUE(bot.has_value()) << "the bot knows the imported people";
  EXPECT_EQ(bot->name, "孙大");

  const json entries = audit_entries("actor=" + url_encode(kAdminName));
  ASSERT_FALSE(entries.empty()) << "an import is audited";
  bool import_logged = false;
  for (const auto& e : entries) {
    EXPECT_EQ(field(e, "via"), json("api")) << e;
    if (field(e, "action") == "import.people" ||
        (field(e, "action") == "person.create" && field(field(e, "after"), "name") == "孙二"))
      import_logged = true;
  }
  EXPECT_TRUE(import_logged) << entries;
}

// kNewPeopleCsv as Excel on a Chinese Windows saves it: GBK.
constexpr const char* kNewPeopleGbk =
    "\xBB\xA7\xBA\xC5,\xBB\xA7\xD6\xF7,\xD0\xD5\xC3\xFB,\xCA\xD6\xBB\xFA,\xB4\xE5\xC3\xF1\xD0\xA1\xD7\xE9,"
    "\xBD\xC7\xC9\xAB\n"
    "H010,\xCB\xEF\xB4\xF3,\xCB\xEF\xB4\xF3,13800000041,\xCB\xC4\xD7\xE9,\xB4\xE5\xC3\xF1\n"
    "H010,\xCB\xEF\xB4\xF3,\xCB\xEF\xB6\xFE,13800000042,\xCB\xC4\xD7\xE9,\xB5\xB3\xD4\xB1\n";

TEST_F(AdminApi, AGbkFileImportsLikeUtf8) {
  const Reply r = raw("POST", "/api/v1/import/people", admin_, kNewPeopleGbk, "text/csv");
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_EQ(field(r.doc, "applied"), true);
  EXPECT_EQ(field(r.doc, "persons_created"), 2);
  const Reply sun = get("/api/v1/persons?q=13800000042", admin_);
  ASSERT_EQ(items_of(sun).size(), 1U) << sun;
  EXPECT_EQ(field(items_of(sun)[0], "name"), json("孙二"));
  EXPECT_EQ(field(items_of(sun)[0], "org_unit_path"), json("四组"));
  EXPECT_THAT(strings_in(field(items_of(sun)[0], "roles")), UnorderedElementsAre("villager", "party_member"));
}

TEST_F(AdminApi, TheExportIsExcelCsvAndImportingItAgainChangesNothing) {
  const Reply csv = exchange("GET", "/api/v1/export/people", "", {{"Authorization", "Bearer " + admin_}});
  ASSERT_EQ(csv.status, 200) << csv;
  std::string content_type;
  for (const auto& [name, value] : csv.headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower == "content-type") content_type = value;
  }
  EXPECT_THAT(content_type, StartsWith("text/csv")) << content_type;
  std::string lower_type = content_type;
  std::transform(lower_type.begin(), lower_type.end(), lower_type.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  EXPECT_THAT(lower_type, HasSubstr("charset=utf-8"));
  ASSERT_GE(csv.body.size(), 3U);
  EXPECT_EQ(csv.body.substr(0, 3), kBom) << "Excel needs the BOM to read UTF-8";
  EXPECT_THAT(csv.body.substr(3), StartsWith("户号,"));
  const std::string header = csv.body.substr(0, csv.body.find('\n'));
  for (const char* column : {"户主", "姓名", "手机", "村民小组", "角色", "企业微信", "中心户", "负责"})
    EXPECT_THAT(header, HasSubstr(column));
  for (const char* value : {"13800000001", "13800000009", "王小红", "wx-004", "一组/东院"})
    EXPECT_THAT(csv.body, HasSubstr(value)) << "an admin's export is complete";

  const Reply english = get("/api/v1/export/people?headers=en", admin_);
  ASSERT_EQ(english.status, 200) << english;
  EXPECT_THAT(english.body, StartsWith(std::string(kBom) + "household,"));

  const std::string before = snapshot();
  const Reply persons_before = get("/api/v1/persons?per_page=500", admin_);
  for (const Reply* file : {&csv, &english}) {
    const Reply again = raw("POST", "/api/v1/import/people", admin_, file->body, "text/csv; charset=utf-8");
    ASSERT_EQ(again.status, 200) << again;
    EXPECT_EQ(field(again.doc, "applied"), false) << "nothing to change: " << again;
    EXPECT_EQ(field(again.doc, "persons_created"), 0);
    EXPECT_EQ(field(again.doc, "households_created"), 0);
    EXPECT_EQ(field(again.doc, "org_units_created"), 0);
    EXPECT_EQ(field(again.doc, "problems"), json::array()) << again;
    EXPECT_EQ(field(again.doc, "rows"), 5);
  }
  EXPECT_EQ(snapshot(), before) << "importing the export changes nothing, not even the audit log";
  EXPECT_EQ(get("/api/v1/persons?per_page=500", admin_).body, persons_before.body);
}

// ---------------------------------------------------------------------------
// Tokens

TEST_F(AdminApi, AnAdminCreatesListsAndRevokesTokens) {
  const Reply created =
      call("POST", "/api/v1/tokens", admin_, {{"name", "王书记"}, {"role", "cadre"}, {"person_id", p2_}});
  ASSERT_EQ(created.status, 201) << created;
  ASSERT_TRUE(field(created.doc, "token").is_string()) << created;
  const std::string issued = field(created.doc, "token").get<std::string>();
  EXPECT_THAT(issued, StartsWith("vb_"));
  EXPECT_EQ(field(created.doc, "name"), json("王书记"));
  EXPECT_EQ(field(created.doc, "role"), json("cadre"));

  const Reply me = get("/api/v1/me", issued);
  ASSERT_EQ(me.status, 200) << "the new token works: " << me;
  EXPECT_EQ(field(me.doc, "name"), json("王书记"));
  EXPECT_EQ(field(me.doc, "person_id"), p2_);
  EXPECT_EQ(field(field(me.doc, "scope"), "whole_village"), false);
  EXPECT_EQ(get(person_path(p1_), issued).status, 200);
  EXPECT_TRUE(is_error(get(person_path(p3_), issued), 403, "out_of_scope")) << "tied to 王小红's scope";

  const Reply list = get("/api/v1/tokens", admin_);
  ASSERT_EQ(list.status, 200) << list;
  EXPECT_THAT(list.body, Not(HasSubstr(issued))) << "the token is shown once";
  EXPECT_THAT(list.body, Not(HasSubstr(admin_)));
  EXPECT_THAT(list.body, Not(HasSubstr(crypto::sha256_hex(issued)))) << "nor its hash";
  EXPECT_THAT(list.body, Not(HasSubstr(crypto::sha256_hex(admin_))));
  EXPECT_EQ(server_.count("SELECT COUNT(*) FROM core_tokens WHERE token_hash = '" + crypto::sha256_hex(issued) + "'"),
            1)
      << "only the token's SHA-256 is stored";
  EXPECT_EQ(server_.count("SELECT COUNT(*) FROM core_tokens WHERE instr(token_hash, '" + issued +
                          "') > 0 OR instr(name, '" + issued + "') > 0"),
            0)
      << "the token itself is not stored";
  ASSERT_EQ(items_of(list).size(), 2U) << list;
  bool found = false;
  for (const auto& t : items_of(list)) {
    EXPECT_FALSE(t.contains("token")) << t;
    EXPECT_FALSE(t.contains("token_hash")) << t;
    if (field(t, "name") != "王书记") continue;
    found = true;
    EXPECT_EQ(field(t, "role"), json("cadre"));
    EXPECT_EQ(field(t, "person_id"), p2_);
    EXPECT_EQ(field(t, "revoked"), false);
    EXPECT_TRUE(field(t, "created_at").is_number_integer()) << t;
    EXPECT_GT(id_of(t), 0);
  }
  EXPECT_TRUE(found) << list;

  const std::size_t tokens_before = server_.runtime().tokens().list().size();
  EXPECT_TRUE(
      is_error(call("POST", "/api/v1/tokens", admin_, {{"name", "王书记"}, {"role", "admin"}}), 409, "conflict"));
  EXPECT_TRUE(is_error(call("POST", "/api/v1/tokens", admin_, {{"name", "国王"}, {"role", "king"}}), 422, "invalid"));
  EXPECT_TRUE(status_in(call("POST", "/api/v1/tokens", admin_, {{"name", "无角色"}}), {400, 422}));
  EXPECT_TRUE(status_in(call("POST", "/api/v1/tokens", admin_, {{"name", ""}, {"role", "cadre"}}), {400, 422}));
  EXPECT_TRUE(
      status_in(call("POST", "/api/v1/tokens", admin_, {{"name", "幽灵"}, {"role", "cadre"}, {"person_id", 999999}}),
                {404, 422}));
  EXPECT_EQ(server_.runtime().tokens().list().size(), tokens_before);

  const Reply revoked = call("DELETE", "/api/v1/tokens/" + url_encode("王书记"), admin_);
  ASSERT_EQ(revoked.status, 200) << revoked;
  EXPECT_EQ(field(revoked.doc, "revoked"), true);
  EXPECT_TRUE(is_error(get("/api/v1/me", issued), 401, "unauthorized")) << "a revoked token is refused at once";
  EXPECT_TRUE(is_error(get(person_path(p1_), issued), 401, "unauthorized"));
  for (const auto& t : items_of(get("/api/v1/tokens", admin_)))
    if (field(t, "name") == "王书记") {
      EXPECT_EQ(field(t, "revoked"), true) << t;
    }
  EXPECT_TRUE(is_error(call("DELETE", "/api/v1/tokens/" + url_encode("没有这个"), admin_), 404, "not_found"));

  for (const std::string& other :
       {token("全村干部", "cadre"), token("监督员", "supervisor"), token("村民", "villager")}) {
    EXPECT_TRUE(is_error(get("/api/v1/tokens", other), 403, "forbidden"));
    EXPECT_TRUE(
        is_error(call("POST", "/api/v1/tokens", other, {{"name", "自封"}, {"role", "admin"}}), 403, "forbidden"));
    EXPECT_TRUE(is_error(call("DELETE", "/api/v1/tokens/" + url_encode(kAdminName), other), 403, "forbidden"));
  }
  EXPECT_EQ(get("/api/v1/me", admin_).status, 200);
}

// ---------------------------------------------------------------------------
// The OpenAPI document

// "/api/v1/persons/{id}/roles/{role}" -> "/api/v1/persons/{}/roles/{}"
std::string shape_of(const std::string& path) {
  std::string out;
  bool in_param = false;
  for (char c : path) {
    if (c == '{') {
      in_param = true;
      out += "{}";
    } else if (c == '}') {
      in_param = false;
    } else if (!in_param) {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<std::string> params_of(const std::string& path) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while ((at = path.find('{', at)) != std::string::npos) {
    const auto end = path.find('}', at);
    if (end == std::string::npos) break;
    out.push_back(path.substr(at + 1, end - at - 1));
    at = end;
  }
  return out;
}

void collect_refs(const json& j, std::vector<std::string>& out) {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      if (key == "$ref" && value.is_string())
        out.push_back(value.get<std::string>());
      else
        collect_refs(value, out);
    }
  } else if (j.is_array()) {
    for (const auto& value : j) collect_refs(value, out);
  }
}

TEST_F(AdminApi, TheOpenApiDocumentIsPublicAndDescribesEveryRoute) {
  const Reply r = raw("GET", "/api/v1/openapi.json", "");
  ASSERT_EQ(r.status, 200) << "public: " << r;
  ASSERT_FALSE(r.doc.is_discarded()) << "it parses";
  const json& doc = r.doc;
  ASSERT_TRUE(field(doc, "openapi").is_string());
  EXPECT_THAT(field(doc, "openapi").get<std::string>(), StartsWith("3."));
  EXPECT_TRUE(field(field(doc, "info"), "title").is_string() &&
              !field(field(doc, "info"), "title").get<std::string>().empty());
  EXPECT_TRUE(field(field(doc, "info"), "version").is_string() &&
              !field(field(doc, "info"), "version").get<std::string>().empty());
  const json paths = field(doc, "paths");
  ASSERT_TRUE(paths.is_object()) << r;

  // Every route of the running server is in it.
  std::size_t routes = 0;
  for (const auto& route : server_.runtime().routes().all()) {
    ++routes;
    std::string method = route->method;
    std::transform(method.begin(), method.end(), method.begin(), [](unsigned char c) { return std::tolower(c); });
    const bool listed = field(field(paths, route->path), method).is_object() ||
                        (route->prefix && field(field(paths, route->path + "/{subpath}"), method).is_object());
    EXPECT_TRUE(listed) << route->method << " " << route->path << " is missing from the OpenAPI document";
  }
  EXPECT_GT(routes, 20U) << "the admin API's routes are registered";

  // Every route of docs/API.md is among them (parameter names aside).
  std::set<std::string> operations;
  for (const auto& [path, item] : paths.items())
    for (const auto& [method, op] : item.items()) operations.insert(method + " " + shape_of(path));
  const std::vector<std::string> documented = {"get /api/v1/org-units",
                                               "post /api/v1/org-units",
                                               "get /api/v1/org-units/{}",
                                               "put /api/v1/org-units/{}",
                                               "delete /api/v1/org-units/{}",
                                               "get /api/v1/households",
                                               "post /api/v1/households",
                                               "get /api/v1/households/{}",
                                               "put /api/v1/households/{}",
                                               "delete /api/v1/households/{}",
                                               "get /api/v1/persons",
                                               "post /api/v1/persons",
                                               "get /api/v1/persons/{}",
                                               "put /api/v1/persons/{}",
                                               "delete /api/v1/persons/{}",
                                               "get /api/v1/roles",
                                               "post /api/v1/persons/{}/roles",
                                               "delete /api/v1/persons/{}/roles/{}",
                                               "get /api/v1/persons/{}/identities",
                                               "put /api/v1/persons/{}/identities/{}",
                                               "delete /api/v1/persons/{}/identities/{}",
                                               "post /api/v1/audience",
                                               "post /api/v1/import/people",
                                               "get /api/v1/export/people",
                                               "get /api/v1/tokens",
                                               "post /api/v1/tokens",
                                               "delete /api/v1/tokens/{}",
                                               "get /api/v1/audit",
                                               "get /api/v1/me",
                                               "get /api/v1/openapi.json"};
  for (const auto& op : documented) EXPECT_TRUE(operations.contains(op)) << op << " is not in the document";

  // Every operation is described and declares its path parameters.
  for (const auto& [path, item] : paths.items()) {
    for (const auto& [method, op] : item.items()) {
      if (method == "parameters" || method == "summary" || method == "description") continue;
      SCOPED_TRACE(method + " " + path);
      EXPECT_TRUE(field(op, "summary").is_string() && !field(op, "summary").get<std::string>().empty()) << op;
      EXPECT_TRUE(field(op, "responses").is_object() && !field(op, "responses").empty()) << op;
      std::vector<json> declared;
      for (const json* list : {&item, &op}) {
        const json params = field(*list, "parameters");
        if (!params.is_array()) continue;
        for (json p : params) {
          if (field(p, "$ref").is_string()) {
            const std::string ref = field(p, "$ref").get<std::string>();
            if (ref.starts_with("#/") && doc.contains(json::json_pointer(ref.substr(1))))
              p = doc.at(json::json_pointer(ref.substr(1)));
          }
          declared.push_back(p);
        }
      }
      for (const auto& name : params_of(path)) {
        bool ok = false;
        for (const auto& p : declared)
          if (field(p, "name") == name && field(p, "in") == "path" && field(p, "required") == true) ok = true;
        EXPECT_TRUE(ok) << "{" << name << "} is not declared as a required path parameter";
      }
    }
  }

  // Every $ref resolves inside the document.
  std::vector<std::string> refs;
  collect_refs(doc, refs);
  for (const auto& ref : refs) {
    ASSERT_TRUE(ref.starts_with("#/")) << ref;
    EXPECT_TRUE(doc.contains(json::json_pointer(ref.substr(1)))) << ref << " does not resolve";
  }

  const Reply with_bad_token = raw("GET", "/api/v1/openapi.json", "vb_" + std::string(48, '0'));
  EXPECT_EQ(with_bad_token.status, 200) << "the document needs no token";
}

// ---------------------------------------------------------------------------
// Limits

TEST_F(AdminApi, AHugeJsonBodyGets413AndChangesNothing) {
  const std::string before = snapshot();
  const std::string huge = json{{"name", std::string(2 * 1024 * 1024, 'a')}, {"phone", "13800000071"}}.dump();
  EXPECT_TRUE(is_error(raw("POST", "/api/v1/persons", admin_, huge), 413, "body_too_large"));
  EXPECT_TRUE(is_error(raw("PUT", person_path(p1_), admin_, huge), 413, "body_too_large"));
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(get("/api/v1/persons", admin_).status, 200) << "the server goes on";

  // The import route takes files larger than the JSON limit (up to 64 MiB).
  std::string big_csv = "户号,户主,姓名,手机\nH050,某,\"" + std::string(2 * 1024 * 1024, 'x') + "\",13800000072\n";
  const Reply big = raw("POST", "/api/v1/import/people", admin_, big_csv, "text/csv");
  EXPECT_NE(big.status, 413) << big;
  EXPECT_EQ(big.status, 422) << "refused for the over-long name, not for its size: " << big;
  EXPECT_EQ(snapshot(), before);
}

}  // namespace
}  // namespace villagebot::testkit
