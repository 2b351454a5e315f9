// The officials' web console (issue 12) end to end: the real server with its plugins, a mock
// gateway on loopback, and Debian's Chromium driven headless through the DevTools protocol.
// Every test also checks that the page made no request outside this server and threw no error.
// Screenshots go to <build>/test-artifacts/console/ (or $VILLAGEBOT_ARTIFACTS/console/).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "cdp.hpp"
#include "mock_gateway.hpp"
#include "runtime/runtime.hpp"
#include "runtime/tokens.hpp"
#include "testkit.hpp"

namespace villagebot::testkit {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// 一组 (eight people, with the cadre 王小红 answering for it), 二组 (the emergency team), 三组.
constexpr const char* kVillage =
    "户号,户主,姓名,手机,村民小组,角色,企业微信,钉钉,飞书,telegram,语言,中心户,负责\n"
    "H001,王大山,王大山,13800000001,一组,村民,,,,,,,\n"
    "H001,王大山,王小红,13800000002,一组,村干部,,,,,,,一组\n"
    "H002,李四,李四,13800000003,一组,评议员,,,,,,,\n"
    "H002,李四,李小梅,13800000005,一组,村民,,,,,,,\n"
    "H005,孙六,孙六,13800000006,一组,村民,,,,,,,\n"
    "H005,孙六,孙小二,13800000007,一组,村民,,,,,,,\n"
    "H006,周七,周七,13800000008,一组,评议员,,,,,,,\n"
    "H006,周七,周小妹,13800000010,一组,村民,,,,,,,\n"
    "H003,赵五,赵五,13800000004,二组,指挥长;应急队员,,,,,,,\n"
    "H007,吴八,吴八,13800000011,二组,应急队员,,,,,,,\n"
    "H007,吴八,吴小九,13800000012,二组,应急队员,,,,,,,\n"
    "H008,郑十,郑十,13800000013,二组,应急队员,,,,,,,\n"
    "H004,管理员,钱七,13800000009,三组,管理员,,,,,,,\n";

constexpr const char* kPointsRules =
    "[[plugins.points.rules]]\ncode = \"A01\"\ndescription = \"打扫公共区域\"\npoints = 5\n"
    "[[plugins.points.rules]]\ncode = \"D01\"\ndescription = \"乱堆乱放\"\npoints = -3\n";

std::filesystem::path artifacts() {
  const char* env = std::getenv("VILLAGEBOT_ARTIFACTS");
  return std::filesystem::path(env != nullptr && *env != '\0' ? env : VILLAGEBOT_BINARY_DIR "/test-artifacts") /
         "console";
}

std::string test_name() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string(info->test_suite_name()) + "." + info->name();
}

class Console : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cdp::Browser::find_executable().empty())
      GTEST_FAIL() << "Chromium is not installed: apt-get install chromium (scripts/test.sh installs it), or set "
                      "VILLAGEBOT_CHROMIUM to a Chromium or Chrome binary";
    Options o;
    o.plugins = {"announcements", "emergency", "points", "opinions", "volunteers"};
    o.people_csv = kVillage;
    o.adapter_toml = "reply_url = \"" + gateway_.url("/chat") + "\"\n";
    o.plugin_sections = {{"points", kPointsRules}, {"emergency", "responses_needed = 2\n"}};
    server_ = std::make_unique<TestServer>(o);
    browser_ = std::make_unique<cdp::Browser>();
    page_ = browser_->new_page();
  }

  void TearDown() override {
    if (page_) {
      // Nothing the page asked for left this server: no fonts, scripts or images from outside.
      const std::string origin = "http://127.0.0.1:" + std::to_string(server_->port()) + "/";
      for (const auto& url : page_->requests())
        EXPECT_TRUE(url.rfind(origin, 0) == 0 || url.rfind("data:", 0) == 0 || url.rfind("blob:" + origin, 0) == 0 ||
                    url == "about:blank")
            << "the page requested " << url;
      EXPECT_GT(page_->requests().size(), 3U) << "the request log is empty: the check above saw nothing";
      // A 401 is the server refusing a wrong or revoked token, which some tests do on purpose;
      // anything else the page logs (a script error, a 403 or 404 it did not expect) fails.
      for (const auto& e : page_->console_errors())
        if (e.find("status of 401") == std::string::npos) ADD_FAILURE() << "the page logged an error: " << e;
    }
    page_.reset();
    browser_.reset();
    server_.reset();
  }

  std::string token(const std::string& role, const std::string& phone = "") {
    std::optional<std::int64_t> person;
    if (!phone.empty()) person = person_id(phone);
    const std::string name = role + "-" + std::to_string(++tokens_made_);
    return server_->runtime().tokens().create(name, role, person);
  }

  std::int64_t person_id(const std::string& phone) {
    return server_->count("SELECT id FROM core_persons WHERE phone = '+86" + phone + "'");
  }

  std::string url(const std::string& fragment = "") const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/" + fragment;
  }

  void login(const std::string& tok) {
    page_->goto_url(url());
    page_->type("#token", tok);
    page_->click("#login-submit");
    page_->wait_for("document.querySelector('#nav a') !== null", 10s, "the menu after logging in");
  }

  void shot(const std::string& step) { page_->screenshot(artifacts() / (test_name() + "-" + step + ".png")); }

  // Clicks 确定 in the console's confirmation dialog.
  void confirm() {
    page_->wait_for("document.querySelector('#confirm-dialog[open]') !== null", 5s, "the confirmation dialog");
    page_->click("#confirm-ok");
  }

  std::vector<std::string> nav() {
    std::vector<std::string> out;
    const auto views = page_->eval("[...document.querySelectorAll('#nav a')].map(a => a.dataset.view)");
    for (const auto& v : views) out.push_back(v.get<std::string>());
    return out;
  }

  MockGateway gateway_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<cdp::Browser> browser_;
  std::unique_ptr<cdp::Page> page_;
  int tokens_made_ = 0;
};

TEST_F(Console, AWrongTokenIsToldClearlyAndMenusFollowTheRole) {
  page_->goto_url(url());
  page_->wait_for("document.querySelector('#token') !== null", 10s, "the login form");
  shot("1-login");
  page_->type("#token", "vb_thisisnotatoken");
  page_->click("#login-submit");
  page_->wait_for("document.querySelector('#login-message').innerText.length > 0", 10s, "the refusal");
  EXPECT_THAT(page_->text("#login-message"), HasSubstr("令牌无效或已被撤销"));
  EXPECT_TRUE(nav().empty());
  shot("2-wrong-token");

  login(token("admin"));
  EXPECT_EQ(nav(), (std::vector<std::string>{"notices", "emergency", "opinions", "points", "volunteers", "people"}));
  shot("3-admin");
  page_->click("#logout");
  page_->wait_for("document.querySelector('#token') !== null", 10s, "the login form again");

  login(token("commander", "13800000004"));
  EXPECT_EQ(nav(), (std::vector<std::string>{"emergency", "points"}));
  EXPECT_THAT(page_->text("#who"), HasSubstr("指挥长"));

  page_->click("#lang");
  page_->wait_for("document.querySelector('#nav a').innerText === 'Emergency'", 5s, "the English menu");
  EXPECT_THAT(page_->text("#who"), HasSubstr("Commander"));
  shot("4-commander-english");
  page_->click("#lang");
  page_->wait_for("document.querySelector('#nav a').innerText === '应急'", 5s, "the Chinese menu again");
}

TEST_F(Console, ARevokedTokenEndsTheSessionWithAMessage) {
  const std::string tok = token("cadre");
  login(tok);
  page_->wait_for("document.querySelector('#notice-body') !== null", 10s, "the compose form");
  server_->runtime().tokens().revoke("cadre-1");
  page_->eval("location.hash = '#/notices/list'");
  page_->wait_for("document.querySelector('#login-message') !== null", 10s, "the login form after revocation");
  EXPECT_THAT(page_->text("#login-message"), HasSubstr("令牌已失效"));
  EXPECT_TRUE(nav().empty());
  EXPECT_FALSE(page_->text("body").empty()) << "not a blank page";
  shot("revoked");
  // A token revoked while the page is closed or idle: the reload that restores the session says so.
  login(token("cadre"));
  server_->runtime().tokens().revoke("cadre-2");
  page_->goto_url(url());
  page_->wait_for(
      "document.querySelector('#login-message') !== null && "
      "document.querySelector('#login-message').innerText.length > 0",
      10s, "the message after a reload");
  EXPECT_THAT(page_->text("#login-message"), HasSubstr("令牌已失效"));
  EXPECT_TRUE(nav().empty());
}

TEST_F(Console, ANoticeToAGroupReachesOneHundredPercentAgainstTheGateway) {
  // The cadre of 一组 (a token acting for 王小红, who answers for 一组).
  login(token("cadre", "13800000002"));
  page_->wait_for("document.querySelector('#notice-body') !== null", 10s, "the compose form");
  page_->type("#notice-title", "周日大扫除");
  page_->type("#notice-body", "{name}您好：本周日上午8点全组大扫除，请带好工具。");
  page_->click("input[data-unit='一组']");
  page_->click("#notice-preview");
  page_->wait_for("document.querySelector('#notices-plan') !== null", 10s, "the preview");
  EXPECT_EQ(page_->text("[data-plan='persons'] b"), "8");
  EXPECT_EQ(page_->text("[data-plan='sms_segments'] b"), "0") << "the generic webhook is a chat channel, not SMS";
  EXPECT_EQ(gateway_.counts().requests, 0U) << "a preview sends nothing";
  shot("1-preview");

  page_->click("#notice-send");
  page_->wait_for("document.querySelector('#notice-progress-pct') !== null", 10s, "the notice's progress");
  page_->wait_for("document.querySelector('#notice-progress-pct').dataset.pct === '100'", 20s,
                  "the progress reaching 100%");
  EXPECT_THAT(page_->text("#notice-progress-pct"), HasSubstr("100%"));
  EXPECT_TRUE(gateway_.wait_for_accepted(8));
  int to_group = 0;
  for (const auto& m : gateway_.messages())
    if (m.text.find("全组大扫除") != std::string::npos) ++to_group;
  EXPECT_EQ(to_group, 8);
  // The per-recipient table lists all eight, each sent.
  page_->wait_for("document.querySelectorAll('#notice-recipients-table tbody tr').length === 8", 10s,
                  "eight recipients");
  page_->wait_for("document.querySelectorAll('#notice-recipients-table [data-status=sent]').length === 8", 10s,
                  "each recipient's row saying 已发出");
  shot("2-progress-100");

  // A villager acknowledges (收到): the page shows it without a reload.
  server_->send("13800000001", "收到");
  page_->wait_for("document.querySelector('#notice-reached').innerText.includes('已确认 1 人')", 10s,
                  "one acknowledgement");
  shot("3-acknowledged");
}

TEST_F(Console, AnAlertsAnswersAppearOnTheRollCallBoard) {
  login(token("commander", "13800000004"));
  page_->wait_for("document.querySelector('#alert-text') !== null", 10s, "the trigger form");
  page_->type("#alert-text", "河水上涨，请立即到村委会集合");
  shot("1-trigger");
  page_->click("#alert-send");
  confirm();
  page_->wait_for(
      "document.querySelector('#rollcall-board') !== null && "
      "document.querySelectorAll('#rollcall-no-answer li').length === 4",
      15s, "four members without an answer");
  EXPECT_TRUE(gateway_.wait_for_accepted(4));

  server_->send("13800000011", "1");
  page_->wait_for("document.querySelectorAll('#rollcall-coming li').length === 1", 10s, "the first coming");
  EXPECT_THAT(page_->text("#rollcall-coming"), HasSubstr("吴八"));
  server_->send("13800000012", "2");
  page_->wait_for("document.querySelectorAll('#rollcall-cannot li').length === 1", 10s, "one who cannot come");
  EXPECT_THAT(page_->text("#rollcall-cannot"), HasSubstr("吴小九"));
  server_->send("13800000013", "到岗");
  page_->wait_for("document.querySelectorAll('#rollcall-coming li').length === 2", 10s, "the second coming");
  EXPECT_EQ(page_->eval("document.querySelectorAll('#rollcall-no-answer li').length"), 1);
  EXPECT_THAT(page_->text("#rollcall-summary"), HasSubstr("已到岗 2 / 需要 2"));
  EXPECT_THAT(page_->text("#rollcall-groups"), HasSubstr("二组"));
  shot("2-board");

  page_->click("#alert-stand-down");
  confirm();
  page_->wait_for("document.querySelector('#alert-heading').parentElement.innerText.includes('已解除')", 10s,
                  "the alert stood down");
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM em_alerts WHERE status = 'stood_down'"), 1);
  shot("3-stood-down");
}

TEST_F(Console, AnEvaluatorApprovesAProposalButNeverTheirOwn) {
  ApiClient cadre(*server_, "cadre", person_id("13800000002"));
  auto r = cadre.call("POST", "/api/v1/points/proposals",
                      {{"household", "H005"}, {"points", 5}, {"reason", "打扫村口"}, {"rule_code", "A01"}});
  ASSERT_EQ(r.status, 201) << r.raw;
  const auto others = r.body["id"].get<std::int64_t>();
  ApiClient evaluator_api(*server_, "evaluator", person_id("13800000003"));
  r = evaluator_api.call("POST", "/api/v1/points/proposals",
                         {{"household", "H001"}, {"points", 5}, {"reason", "自己提的"}, {"rule_code", "A01"}});
  ASSERT_EQ(r.status, 201) << r.raw;
  const auto own = r.body["id"].get<std::int64_t>();

  login(token("evaluator", "13800000003"));
  page_->eval("location.hash = '#/points/pending'");
  const std::string approve = "#points-approve-" + std::to_string(others);
  page_->wait_for("document.querySelector('" + approve + "') !== null", 10s, "the approve button");
  EXPECT_EQ(page_->eval("document.querySelector('#points-approve-" + std::to_string(own) + "') === null"), true)
      << "one's own proposal has no approve button";
  EXPECT_THAT(page_->text("tr[data-proposal='" + std::to_string(own) + "']"), HasSubstr("本人提出"));
  shot("1-pending");
  page_->click(approve);
  page_->wait_for("document.querySelector(\"tr[data-proposal='" + std::to_string(others) + "']\") === null", 10s,
                  "the approved proposal leaving the list");
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM points_entries"), 1);
  EXPECT_EQ(server_->count("SELECT COALESCE(SUM(points), 0) FROM points_entries"), 5);
  shot("2-approved");

  page_->eval("location.hash = '#/points/ledger'");
  page_->wait_for(
      "document.querySelector('#points-chain-status') !== null && "
      "document.querySelector('#points-chain-status').dataset.ok !== undefined",
      10s, "the chain's verification");
  EXPECT_EQ(page_->eval("document.querySelector('#points-chain-status').dataset.ok"), "1");
  EXPECT_THAT(page_->text("#points-chain-status"), HasSubstr("完整"));
  shot("3-ledger");
}

TEST_F(Console, ACsvImportShowsTheDryRunBeforeApplying) {
  const auto dir = make_temp_dir("villagebot-console-csv");
  const auto bad = dir / "bad.csv";
  const auto good = dir / "good.csv";
  const std::string header = "户号,户主,姓名,手机,村民小组,角色\n";
  std::ofstream(bad) << header << "H101,冯一,冯一,13900000101,四组,村民\nH101,冯一,冯二,139000001,四组,村民\n";
  std::ofstream(good) << header << "H101,冯一,冯一,13900000101,四组,村民\nH101,冯一,冯二,13900000102,四组,村民\n";
  const auto before = server_->count("SELECT COUNT(*) FROM core_persons");

  login(token("admin"));
  page_->eval("location.hash = '#/people'");
  // The directory list loads beside the form and moves it: click only once the page is still.
  page_->wait_for(
      "document.querySelector('#people-import-file') !== null && "
      "document.querySelector('#people-list tbody tr') !== null",
      10s, "the import form and the directory");
  page_->set_files("#people-import-file", {bad.string()});
  page_->click("#people-import-check");
  page_->wait_for(
      "document.querySelector('#people-import-report') !== null && "
      "document.querySelector('#people-import-report').innerText.includes('手机')",
      10s, "the dry-run report naming the bad phone");
  EXPECT_EQ(page_->eval("document.querySelector('#people-import-apply').disabled"), true)
      << "a file with problems is not applied by default";
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_persons"), before) << "a dry run writes nothing";
  shot("1-dry-run-problems");

  page_->set_files("#people-import-file", {good.string()});
  page_->click("#people-import-check");
  page_->wait_for(
      "document.querySelector('#people-import-apply') !== null && "
      "!document.querySelector('#people-import-apply').disabled",
      10s, "the apply button after a clean dry run");
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_persons"), before);
  shot("2-dry-run-clean");
  page_->click("#people-import-apply");
  page_->wait_for("document.querySelector('#people-import-report').innerText.includes('2')", 10s, "the applied report");
  for (int i = 0; i < 100 && server_->count("SELECT COUNT(*) FROM core_persons") != before + 2; ++i)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_persons"), before + 2);
  shot("3-applied");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST_F(Console, AVillagersMarkupIsShownAsTextNeverRun) {
  const std::string hostile =
      "意见 <img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>路灯坏了";
  ASSERT_FALSE(server_->send("13800000001", hostile).empty());
  login(token("admin"));
  page_->eval("location.hash = '#/opinions'");
  page_->wait_for("document.querySelector('#opinions-tickets-table') !== null", 10s, "the tickets");
  EXPECT_THAT(page_->text("#opinions-tickets-table"), HasSubstr("<img src=x onerror="));
  EXPECT_EQ(
      page_->eval("document.querySelectorAll('#opinions-tickets-table img, #opinions-tickets-table script').length"),
      0);
  EXPECT_NE(page_->eval("document.title").get<std::string>(), "pwned");
  shot("markup-as-text");
}

TEST_F(Console, EveryViewRendersOnALaptopAndOnAPhone) {
  login(token("admin"));
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{{1366, 768}, {375, 667}}) {
    page_->set_viewport(w, h, w < 500);
    for (const std::string& view :
         std::vector<std::string>{"notices", "emergency", "opinions", "points", "volunteers", "people"}) {
      page_->eval("location.hash = '#/" + view + "'");
      page_->wait_for("document.querySelector('#view-" + view +
                          "') !== null && "
                          "document.querySelector('#view-" +
                          view +
                          "').innerText.length > 20 && "
                          "!document.querySelector('#view-" +
                          view + "').innerText.includes('加载中')",
                      10s, "the " + view + " view");
      // Nothing wider than the screen: no sideways scrolling of the whole page.
      EXPECT_LE(page_->eval("document.documentElement.scrollWidth").get<int>(), w + 1) << view << " at " << w;
      EXPECT_EQ(page_->eval("document.querySelectorAll('#main .error').length"), 0)
          << view << ": " << page_->text("#main .error");
      shot(std::to_string(w) + "-" + view);
    }
  }
  // On the phone the menu folds behind a button.
  EXPECT_EQ(page_->eval("getComputedStyle(document.querySelector('#nav')).display"), "none");
  page_->click("#menu-toggle");
  EXPECT_EQ(page_->eval("getComputedStyle(document.querySelector('#nav')).display"), "flex");
  shot("375-menu");
}

}  // namespace
}  // namespace villagebot::testkit
