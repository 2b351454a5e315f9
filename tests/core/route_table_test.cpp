#include "http/route_table.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace villagebot::http {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

RouteSpec route(std::string method, std::string path, bool prefix = false, std::string summary = {}) {
  RouteSpec spec;
  spec.method = std::move(method);
  spec.path = std::move(path);
  spec.prefix = prefix;
  spec.summary = summary.empty() ? spec.method + " " + spec.path + (prefix ? "*" : "") : std::move(summary);
  spec.handler = [](const HttpRequest&, Responder respond) { respond(HttpResponse::text(200, "ok")); };
  return spec;
}

// Which route answered, by its summary; "405" or "404" when none did.
std::string answer(const RouteTable& table, const std::string& method, const std::string& path) {
  const auto m = table.match(method, path);
  if (m.route) return m.route->summary;
  return m.method_mismatch ? "405" : "404";
}

std::string suffix(const RouteTable& table, const std::string& method, const std::string& path) {
  return table.match(method, path).suffix;
}

std::vector<std::string> paths(const RouteTable& table) {
  std::vector<std::string> out;
  for (const auto& r : table.all()) out.push_back(r->method + " " + r->path + (r->public_route ? " public" : " token"));
  return out;
}

TEST(RouteTable, ExactRouteMatchesOnlyItsPath) {
  RouteTable table;
  auto reg = table.add(route("GET", "/healthz"));
  EXPECT_EQ(answer(table, "GET", "/healthz"), "GET /healthz");
  EXPECT_EQ(suffix(table, "GET", "/healthz"), "");
  EXPECT_EQ(answer(table, "GET", "/healthz/extra"), "404");
  EXPECT_EQ(answer(table, "GET", "/health"), "404");
  EXPECT_EQ(answer(table, "GET", "/healthzz"), "404");
  EXPECT_EQ(answer(table, "GET", "/"), "404");
}

TEST(RouteTable, PrefixRouteMatchesSubPathsAtASegmentBoundary) {
  RouteTable table;
  auto reg = table.add(route("POST", "/hooks/twilio", true));
  EXPECT_EQ(answer(table, "POST", "/hooks/twilio"), "POST /hooks/twilio*");
  EXPECT_EQ(suffix(table, "POST", "/hooks/twilio"), "");
  EXPECT_EQ(answer(table, "POST", "/hooks/twilio/status"), "POST /hooks/twilio*");
  EXPECT_EQ(suffix(table, "POST", "/hooks/twilio/status"), "status");
  EXPECT_EQ(suffix(table, "POST", "/hooks/twilio/status/12"), "status/12");
  // /hooks/twilio2 is another adapter's route, not a sub-path of this one.
  EXPECT_EQ(answer(table, "POST", "/hooks/twilio2"), "404");
  EXPECT_EQ(answer(table, "POST", "/hooks/twili"), "404");
}

TEST(RouteTable, PrefixEndingInSlashMatchesWhatFollows) {
  RouteTable table;
  auto reg = table.add(route("GET", "/files/", true));
  EXPECT_EQ(suffix(table, "GET", "/files/a/b.csv"), "a/b.csv");
  EXPECT_EQ(answer(table, "GET", "/files"), "404");
}

TEST(RouteTable, LongestPrefixWins) {
  for (bool reverse : {false, true}) {
    SCOPED_TRACE(reverse ? "longest registered first" : "shortest registered first");
    RouteTable table;
    std::vector<Registration> regs;
    if (reverse) {
      regs.push_back(table.add(route("GET", "/api/v1/points", true)));
      regs.push_back(table.add(route("GET", "/api/v1", true)));
    } else {
      regs.push_back(table.add(route("GET", "/api/v1", true)));
      regs.push_back(table.add(route("GET", "/api/v1/points", true)));
    }
    EXPECT_EQ(answer(table, "GET", "/api/v1/points/balance"), "GET /api/v1/points*");
    EXPECT_EQ(suffix(table, "GET", "/api/v1/points/balance"), "balance");
    EXPECT_EQ(answer(table, "GET", "/api/v1/pointsx"), "GET /api/v1*");
    EXPECT_EQ(suffix(table, "GET", "/api/v1/pointsx"), "pointsx");
    EXPECT_EQ(answer(table, "GET", "/api/v1/opinions/3"), "GET /api/v1*");
  }
}

TEST(RouteTable, ExactRouteBeatsAPrefixCoveringIt) {
  for (bool reverse : {false, true}) {
    SCOPED_TRACE(reverse);
    RouteTable table;
    std::vector<Registration> regs;
    if (reverse) regs.push_back(table.add(route("GET", "/api/v1/points/catalog")));
    regs.push_back(table.add(route("GET", "/api/v1/points", true)));
    if (!reverse) regs.push_back(table.add(route("GET", "/api/v1/points/catalog")));
    EXPECT_EQ(answer(table, "GET", "/api/v1/points/catalog"), "GET /api/v1/points/catalog");
    EXPECT_EQ(suffix(table, "GET", "/api/v1/points/catalog"), "");
    EXPECT_EQ(answer(table, "GET", "/api/v1/points/catalog/7"), "GET /api/v1/points*");
  }
}

TEST(RouteTable, WrongMethodIsDetectedFor405) {
  RouteTable table;
  auto hook = table.add(route("POST", "/hooks/generic"));
  auto status = table.add(route("POST", "/hooks/sms", true));
  EXPECT_EQ(answer(table, "GET", "/hooks/generic"), "405");
  EXPECT_EQ(answer(table, "PUT", "/hooks/sms/status"), "405");
  EXPECT_EQ(answer(table, "GET", "/hooks/nothing"), "404");
  EXPECT_EQ(answer(table, "POST", "/hooks/generic"), "POST /hooks/generic");
  EXPECT_FALSE(table.match("POST", "/hooks/generic").method_mismatch);
}

TEST(RouteTable, SamePathWithTwoMethodsPicksTheRightOne) {
  RouteTable table;
  auto post = table.add(route("POST", "/api/v1/tokens"));
  auto get = table.add(route("GET", "/api/v1/tokens"));
  EXPECT_EQ(answer(table, "GET", "/api/v1/tokens"), "GET /api/v1/tokens");
  EXPECT_EQ(answer(table, "POST", "/api/v1/tokens"), "POST /api/v1/tokens");
  EXPECT_FALSE(table.match("GET", "/api/v1/tokens").method_mismatch);
  EXPECT_EQ(answer(table, "DELETE", "/api/v1/tokens"), "405");
}

TEST(RouteTable, DuplicateRouteThrows) {
  RouteTable table;
  auto first = table.add(route("POST", "/hooks/generic", false, "first"));
  EXPECT_THROW((void)table.add(route("POST", "/hooks/generic", false, "second")), std::invalid_argument);
  EXPECT_EQ(answer(table, "POST", "/hooks/generic"), "first");
  // Another method on the same path is a different route.
  auto get = table.add(route("GET", "/hooks/generic"));
  EXPECT_EQ(table.all().size(), 2U);
}

TEST(RouteTable, InvalidRoutesAreRefused) {
  RouteTable table;
  EXPECT_THROW((void)table.add(route("GET", "healthz")), std::invalid_argument);
  EXPECT_THROW((void)table.add(route("GET", "")), std::invalid_argument);
  RouteSpec no_handler = route("GET", "/x");
  no_handler.handler = nullptr;
  EXPECT_THROW((void)table.add(no_handler), std::invalid_argument);
  EXPECT_THAT(table.all(), IsEmpty());
}

TEST(RouteTable, DestroyingTheRegistrationRemovesTheRoute) {
  RouteTable table;
  auto keep = table.add(route("GET", "/healthz"));
  {
    auto plugin = table.add(route("GET", "/api/v1/points", true));
    EXPECT_EQ(answer(table, "GET", "/api/v1/points/balance"), "GET /api/v1/points*");
  }
  EXPECT_EQ(answer(table, "GET", "/api/v1/points/balance"), "404");
  EXPECT_EQ(answer(table, "GET", "/healthz"), "GET /healthz");
  EXPECT_EQ(table.all().size(), 1U);
  // The path can be registered again, e.g. when the plugin is reloaded.
  auto again = table.add(route("GET", "/api/v1/points", true, "reloaded"));
  EXPECT_EQ(answer(table, "GET", "/api/v1/points/balance"), "reloaded");
}

// ---- PrefixedRoutes -----------------------------------------------------------

TEST(PrefixedRoutes, PluginRoutesLiveUnderApiV1AndNeedAToken) {
  RouteTable table;
  PrefixedRoutes plugin(table, "/api/v1/points", false);
  RouteSpec balance = route("GET", "/balance", false, "balance");
  balance.public_route = true;  // a plugin cannot opt out of token checks
  balance.roles = {"cadre"};
  auto r1 = plugin.add(std::move(balance));
  auto r2 = plugin.add(route("GET", "households", true, "households"));
  auto r3 = plugin.add(route("GET", "", false, "root"));

  EXPECT_EQ(answer(table, "GET", "/api/v1/points/balance"), "balance");
  EXPECT_EQ(answer(table, "GET", "/balance"), "404");
  EXPECT_EQ(answer(table, "GET", "/api/v1/points/households/H001"), "households");
  EXPECT_EQ(suffix(table, "GET", "/api/v1/points/households/H001"), "H001");
  EXPECT_EQ(answer(table, "GET", "/api/v1/points"), "root");
  EXPECT_THAT(paths(table), UnorderedElementsAre("GET /api/v1/points/balance token",
                                                 "GET /api/v1/points/households token", "GET /api/v1/points token"));
  const auto m = table.match("GET", "/api/v1/points/balance");
  ASSERT_TRUE(m.route);
  EXPECT_THAT(m.route->roles, ElementsAre("cadre"));
}

TEST(PrefixedRoutes, AdapterRoutesLiveUnderHooksAndArePublic) {
  RouteTable table;
  PrefixedRoutes adapter(table, "/hooks/twilio", true);
  auto inbound = adapter.add(route("POST", "", false, "inbound"));
  auto status = adapter.add(route("POST", "/status", false, "status"));
  EXPECT_EQ(answer(table, "POST", "/hooks/twilio"), "inbound");
  EXPECT_EQ(answer(table, "POST", "/hooks/twilio/status"), "status");
  EXPECT_EQ(answer(table, "GET", "/hooks/twilio"), "405");
  EXPECT_THAT(paths(table), UnorderedElementsAre("POST /hooks/twilio public", "POST /hooks/twilio/status public"));

  // Two adapters cannot claim the same route; removing one frees it.
  PrefixedRoutes same(table, "/hooks/twilio", true);
  EXPECT_THROW((void)same.add(route("POST", "/")), std::invalid_argument);
  inbound.reset();
  EXPECT_EQ(answer(table, "POST", "/hooks/twilio"), "404");
  auto replacement = same.add(route("POST", "/", false, "replacement"));
  EXPECT_EQ(answer(table, "POST", "/hooks/twilio"), "replacement");
}

TEST(RouteTable, TemplateSegmentsMatchOneSegmentAndAreDecoded) {
  RouteTable table;
  auto a = table.add(route("GET", "/api/v1/persons/{id}", false, "person"));
  auto b = table.add(route("DELETE", "/api/v1/persons/{id}/roles/{role}", false, "role"));
  auto m = table.match("GET", "/api/v1/persons/42");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(m.params.at("id"), "42");
  m = table.match("DELETE", "/api/v1/persons/7/roles/%E6%9D%91%E6%B0%91");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(m.params.at("id"), "7");
  EXPECT_EQ(m.params.at("role"), "村民");
  EXPECT_EQ(answer(table, "GET", "/api/v1/persons/"), "404");          // an empty segment is no id
  EXPECT_EQ(answer(table, "GET", "/api/v1/persons/1/2"), "404");       // one segment only
  EXPECT_EQ(answer(table, "POST", "/api/v1/persons/1"), "405");        // the path exists, not the method
  EXPECT_EQ(answer(table, "GET", "/api/v1/persons/1%2F2"), "person");  // an encoded slash stays inside
  EXPECT_EQ(table.match("GET", "/api/v1/persons/1%2F2").params.at("id"), "1/2");
}

TEST(RouteTable, LiteralPathsWinOverTemplatesAndTemplatesOverPrefixes) {
  RouteTable table;
  auto a = table.add(route("GET", "/api/v1/persons/{id}", false, "template"));
  auto b = table.add(route("GET", "/api/v1/persons/search", false, "literal"));
  auto c = table.add(route("GET", "/api/v1", true, "prefix"));
  auto d = table.add(route("GET", "/api/v1/{kind}/{id}", false, "less literal"));
  EXPECT_EQ(answer(table, "GET", "/api/v1/persons/search"), "literal");
  EXPECT_EQ(answer(table, "GET", "/api/v1/persons/9"), "template");
  EXPECT_EQ(answer(table, "GET", "/api/v1/households/9"), "less literal");
  EXPECT_EQ(answer(table, "GET", "/api/v1/a/b/c"), "prefix");
}

}  // namespace
}  // namespace villagebot::http
