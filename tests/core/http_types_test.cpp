#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "villagebot/http.hpp"
#include "villagebot/text.hpp"

namespace villagebot {
namespace {

TEST(HttpRequest, HeaderLookupIgnoresCase) {
  HttpRequest r;
  r.headers = {{"x-villagebot-signature", "sha256=abc"}, {"content-type", "application/json"}};
  EXPECT_EQ(r.header("X-Villagebot-Signature"), "sha256=abc");
  EXPECT_EQ(r.header("x-villagebot-signature"), "sha256=abc");
  EXPECT_EQ(r.header("CONTENT-TYPE"), "application/json");
  EXPECT_EQ(r.header("X-Villagebot-Timestamp"), "");
  EXPECT_EQ(r.header(""), "");
}

TEST(HttpRequest, QueryParamDecodesFormEncoding) {
  HttpRequest r;
  r.query = "phone=%2B8613800000001&name=%E5%BC%A0%E4%B8%89&note=a+b%20c&empty=&flag&limit=10";
  EXPECT_EQ(r.query_param("phone"), "+8613800000001");
  EXPECT_EQ(r.query_param("name"), "张三");
  EXPECT_EQ(r.query_param("note"), "a b c");
  EXPECT_EQ(r.query_param("empty"), "");
  EXPECT_EQ(r.query_param("flag"), "");
  EXPECT_EQ(r.query_param("limit"), "10");
  EXPECT_EQ(r.query_param("missing"), "");
  EXPECT_EQ(r.query_param("lim"), "") << "names match whole, not by prefix";
}

TEST(HttpRequest, QueryParamFirstOccurrenceWinsAndNamesAreDecoded) {
  HttpRequest r;
  r.query = "?a=1&a=2&%E6%9D%91=%E5%B9%B8%E7%A6%8F&&b=x%3Dy%26z";
  EXPECT_EQ(r.query_param("a"), "1");
  EXPECT_EQ(r.query_param("村"), "幸福");
  EXPECT_EQ(r.query_param("b"), "x=y&z");
}

TEST(HttpRequest, MalformedEscapesAreKeptLiterally) {
  HttpRequest r;
  r.query = "a=100%&b=%zz&c=%4&d=%41";
  EXPECT_EQ(r.query_param("a"), "100%");
  EXPECT_EQ(r.query_param("b"), "%zz");
  EXPECT_EQ(r.query_param("c"), "%4");
  EXPECT_EQ(r.query_param("d"), "A");
}

TEST(HttpResponse, ErrorHasTheDocumentedJsonShape) {
  const auto r = HttpResponse::error(400, "bad_json", "请求体不是有效的 JSON");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  const auto body = nlohmann::json::parse(r.body);
  ASSERT_TRUE(body.is_object());
  EXPECT_EQ(body.size(), 1U);
  EXPECT_EQ(body.at("error").at("code"), "bad_json");
  EXPECT_EQ(body.at("error").at("message"), "请求体不是有效的 JSON");
  EXPECT_EQ(body.at("error").size(), 2U);
}

TEST(HttpResponse, ErrorEscapesQuotesInMessages) {
  const auto r = HttpResponse::error(401, "bad_signature", "expected \"sha256=...\"\n");
  const auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["error"]["message"], "expected \"sha256=...\"\n");
}

TEST(HttpResponse, JsonReplacesInvalidUtf8InsteadOfThrowing) {
  const std::string broken = std::string("积") + '\xFF' + "分";
  HttpResponse r;
  ASSERT_NO_THROW(r = HttpResponse::json(200, {{"replies", {{{"text", broken}}}}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(text::valid_utf8(r.body));
  const auto body = nlohmann::json::parse(r.body);  // a client can parse it
  EXPECT_EQ(body["replies"][0]["text"], "积\uFFFD分");

  // Also in an error message built from client input.
  HttpResponse e;
  ASSERT_NO_THROW(e = HttpResponse::error(400, "bad_request", std::string("sender \xC3(")));
  EXPECT_TRUE(text::valid_utf8(e.body));
  EXPECT_EQ(nlohmann::json::parse(e.body)["error"]["code"], "bad_request");
}

TEST(HttpResponse, JsonKeepsChineseReadable) {
  const auto r = HttpResponse::json(201, {{"text", "积分"}});
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, R"({"text":"积分"})");
}

// The response writer has its own fast path for valid UTF-8: what a client
// receives must be exactly what nlohmann::json writes.
TEST(HttpResponse, JsonWritesTheSameTextAsNlohmannForEveryKindOfValue) {
  std::string controls(1, '\0');
  for (char c = 1; c < 0x20; ++c) controls += c;
  const nlohmann::json doc = {
      {"replies", {{{"text", "积分余额：120 分\n\t第二行 \"引号\" \\ 反斜杠 / 斜杠 \x7F 😀"}}, {{"text", ""}}}},
      {"controls", controls},
      {"numbers", {0, -1, 42, 9007199254740993LL, 18446744073709551615ULL, 1.5, -0.25, 1e300, 0.1}},
      {"flags", {true, false, nullptr}},
      {"nested", {{"empty_object", nlohmann::json::object()}, {"empty_array", nlohmann::json::array()}}},
      {"键", "值"},
      {"a\"b", "key with a quote"}};
  EXPECT_EQ(HttpResponse::json(200, doc).body, doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  const nlohmann::json scalar = "只有一个字符串";
  EXPECT_EQ(HttpResponse::json(200, scalar).body, scalar.dump());
  // An invalid key goes the slow way too.
  const nlohmann::json bad_key = {{std::string("k\xFF"), 1}};
  EXPECT_EQ(HttpResponse::json(200, bad_key).body,
            bad_key.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

TEST(HttpResponse, TextKeepsBodyAndContentType) {
  const auto r = HttpResponse::text(200, "# HELP x\n", "text/plain; version=0.0.4");
  EXPECT_EQ(r.body, "# HELP x\n");
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4");
  EXPECT_EQ(HttpResponse::text(404, "nope").content_type, "text/plain; charset=utf-8");
}

}  // namespace
}  // namespace villagebot
