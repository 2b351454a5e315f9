// The CDP driver against a real headless Chromium and a small page served by FakeHttpServer:
// what a person would see after typing, clicking, choosing and uploading.
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "cdp.hpp"
#include "fake_http.hpp"
#include "temp_dir.hpp"
#include "villagebot/crypto.hpp"

namespace villagebot::testkit::cdp {
namespace {

using namespace std::chrono_literals;
using ::testing::Contains;
using ::testing::HasSubstr;

// A 1×1 PNG.
const std::string kPixel = *crypto::base64_decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==");

const char* const kHome = R"(<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CDP 自测</title></head>
<body>
<h1>村务测试页</h1>
<input id="name" value="旧的内容">
<button id="greet">问候</button>
<div id="out"></div>
<div id="api"></div>
<select id="village"><option value="">请选择</option><option value="east">东村</option><option value="west">西村</option></select>
<div id="chosen"></div>
<input id="file" type="file">
<div id="fileinfo"></div>
<img id="pixel" src="/pixel.png" alt="">
<button id="later" disabled>稍后可用</button>
<div id="later-out"></div>
<div style="height: 3000px"></div>
<button id="far">页面底部</button>
<div id="far-out"></div>
<script>
  window.inputEvents = 0;
  const $ = (id) => document.getElementById(id);
  $('name').addEventListener('input', () => window.inputEvents++);
  $('greet').addEventListener('click', async (ev) => {
    window.trusted = ev.isTrusted;
    $('out').textContent = $('name').value;
    const reply = await fetch('/api');
    $('api').textContent = (await reply.json()).answer;
  });
  $('village').addEventListener('change', () => $('chosen').textContent = '已选：' + $('village').value);
  $('file').addEventListener('change', () => {
    const f = $('file').files[0];
    $('fileinfo').textContent = f.name + ' ' + f.size + ' 字节';
  });
  setTimeout(() => $('later').disabled = false, 300);
  $('later').addEventListener('click', () => $('later-out').textContent = '点到了');
  $('far').addEventListener('click', () => $('far-out').textContent = '底部点到了');
</script>
</body></html>)";

const char* const kBoom = R"(<!doctype html><meta charset="utf-8"><title>boom</title>
<p>出错的页面</p>
<img src="/missing.png" alt="">
<script>
  console.error('bad thing', 42);
  setTimeout(() => { throw new Error('boom'); });
</script>)";

FakeResponse serve(const ReceivedRequest& request) {
  const std::string path = request.target.substr(0, request.target.find('?'));
  if (path == "/") return {.status = 200, .body = kHome, .content_type = "text/html; charset=utf-8"};
  if (path == "/boom") return {.status = 200, .body = kBoom, .content_type = "text/html; charset=utf-8"};
  if (path == "/pixel.png" || path == "/favicon.ico")
    return {.status = 200, .body = kPixel, .content_type = "image/png"};
  if (path == "/api") return {.status = 200, .body = R"({"answer":"收到"})", .content_type = "application/json"};
  return {.status = 404, .body = "not found", .content_type = "text/plain"};
}

// Until `done` holds or the time is up; whether it held.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::uint32_t big_endian32(const std::string& bytes, std::size_t at) {
  std::uint32_t n = 0;
  for (std::size_t i = 0; i < 4; ++i) n = (n << 8) | static_cast<unsigned char>(bytes.at(at + i));
  return n;
}

// Processes of the group `pgid` that are still running (zombies waiting for init do not count).
std::vector<int> live_group_members(pid_t pgid) {
  std::vector<int> pids;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    const std::string stat = read_file(entry.path() / "stat");
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(stat.substr(paren + 1));
    std::string state;
    int ppid = 0, pgrp = 0;
    fields >> state >> ppid >> pgrp;
    if (pgrp == pgid && state != "Z") pids.push_back(std::stoi(name));
  }
  return pids;
}

class CdpTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { browser_.reset(); }
  void SetUp() override {
    ASSERT_FALSE(Browser::find_executable().empty())
        << "no Chromium found: apt-get install -y --no-install-recommends chromium, or set VILLAGEBOT_CHROMIUM";
    if (!browser_) browser_ = std::make_unique<Browser>();  // one browser for the suite: a page per test
    page_ = browser_->new_page();
  }
  void TearDown() override { page_.reset(); }

  static std::unique_ptr<Browser> browser_;
  FakeHttpServer server_{FakeHttpOptions{.handler = serve, .keep_alive = true}};
  std::unique_ptr<Page> page_;
};
std::unique_ptr<Browser> CdpTest::browser_;

TEST_F(CdpTest, TypedChineseTextAppearsAfterARealClick) {
  page_->goto_url(server_.url("/"));
  EXPECT_EQ(page_->eval("document.title"), "CDP 自测");
  EXPECT_EQ(page_->eval("navigator.language"), "zh-CN");
  EXPECT_EQ(page_->eval("Intl.DateTimeFormat().resolvedOptions().locale"), "zh-CN");
  page_->type("#name", "张三 你好");
  EXPECT_EQ(page_->eval("document.getElementById('name').value"), "张三 你好");  // the old text replaced
  EXPECT_GE(page_->eval("window.inputEvents").get<int>(), 1);
  page_->click("#greet");
  EXPECT_EQ(page_->text("#out"), "张三 你好");
  EXPECT_EQ(page_->eval("window.trusted"), true);  // a real mouse click, not element.click()
  page_->wait_for("document.getElementById('api').innerText === '收到'", 5s, "the /api answer");
  EXPECT_EQ(page_->text("#api"), "收到");
  EXPECT_EQ(page_->text("#nothing-like-this"), "");

  page_->type("#name", "");
  EXPECT_EQ(page_->eval("document.getElementById('name').value"), "");
}

TEST_F(CdpTest, ClickWaitsForAnEnabledButtonAndScrollsToFarOnes) {
  page_->goto_url(server_.url("/"));
  page_->click("#later");  // disabled for the first 300 ms
  EXPECT_EQ(page_->text("#later-out"), "点到了");
  page_->click("#far");  // 3000 px below the fold
  EXPECT_EQ(page_->text("#far-out"), "底部点到了");
}

TEST_F(CdpTest, SelectFiresChange) {
  page_->goto_url(server_.url("/"));
  page_->select("#village", "west");
  EXPECT_EQ(page_->text("#chosen"), "已选：west");
}

TEST_F(CdpTest, ChosenFileShowsItsNameAndSize) {
  TempDir dir("cdp-upload");
  const std::string file = dir.file("名单.csv");
  std::ofstream(file) << "name,phone\n张三,13800000000\n";
  page_->goto_url(server_.url("/"));
  page_->set_files("#file", {file});
  page_->wait_for("document.getElementById('fileinfo').innerText !== ''", 5s, "the file's details");
  EXPECT_EQ(page_->text("#fileinfo"), "名单.csv " + std::to_string(std::filesystem::file_size(file)) + " 字节");
  EXPECT_THROW(page_->set_files("#file", {dir.file("missing.csv")}), CdpError);
}

TEST_F(CdpTest, ScreenshotIsAPngOfTheViewport) {
  page_->goto_url(server_.url("/"));
  TempDir dir("cdp-shot");
  const auto png = dir.path() / "nested" / "home.png";
  page_->screenshot(png);
  const std::string bytes = read_file(png);
  ASSERT_GT(bytes.size(), 24u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(bytes.substr(12, 4), "IHDR");
  EXPECT_EQ(big_endian32(bytes, 16), 1366u);
  EXPECT_EQ(big_endian32(bytes, 20), 768u);
}

TEST_F(CdpTest, MobileViewport) {
  page_->goto_url(server_.url("/"));
  EXPECT_EQ(page_->eval("window.innerWidth"), 1366);
  page_->set_viewport(375, 667, true);
  EXPECT_EQ(page_->eval("window.innerWidth"), 375);
  EXPECT_EQ(page_->eval("window.innerHeight"), 667);
  page_->click("#far");  // clicks still land with touch emulation on
  EXPECT_EQ(page_->text("#far-out"), "底部点到了");
}

TEST_F(CdpTest, RequestsListThePageItsImageAndItsFetch) {
  page_->goto_url(server_.url("/"));
  page_->wait_for("document.getElementById('pixel').complete && document.getElementById('pixel').naturalWidth === 1",
                  5s, "the image");
  page_->click("#greet");
  page_->wait_for("document.getElementById('api').innerText !== ''", 5s, "the /api answer");
  const auto requests = page_->requests();
  EXPECT_THAT(requests, Contains(server_.url("/")));
  EXPECT_THAT(requests, Contains(server_.url("/pixel.png")));
  EXPECT_THAT(requests, Contains(server_.url("/api")));
  const auto received = server_.wait_for(3);
  ASSERT_FALSE(received.empty());
  EXPECT_THAT(received.front().headers, Contains(::testing::Pair("accept-language", ::testing::StartsWith("zh-CN"))));
  EXPECT_THAT(page_->console_errors(), ::testing::IsEmpty());
}

TEST_F(CdpTest, ConsoleErrorsCollectExceptionsAndConsoleError) {
  page_->goto_url(server_.url("/boom"));
  ASSERT_TRUE(eventually([&] {
    const auto errors = page_->console_errors();
    return std::any_of(errors.begin(), errors.end(), [](const std::string& e) { return e.find("boom") != e.npos; });
  })) << ::testing::PrintToString(page_->console_errors());
  // Each once (console.error comes from the Runtime domain only, not again from Log), and the
  // broken image as the browser reports it.
  EXPECT_THAT(page_->console_errors(),
              ::testing::UnorderedElementsAre(HasSubstr("bad thing 42"), HasSubstr("Uncaught Error: boom"),
                                              AllOf(HasSubstr("404"), HasSubstr(server_.url("/missing.png")))))
      << ::testing::PrintToString(page_->console_errors());
}

TEST_F(CdpTest, JavaScriptExceptionsBecomeCdpErrors) {
  page_->goto_url(server_.url("/"));
  try {
    page_->eval("(() => { throw new Error('kaput 坏了'); })()");
    FAIL() << "no exception";
  } catch (const CdpError& e) {
    EXPECT_THAT(e.what(), HasSubstr("kaput 坏了"));
  }
  try {
    page_->eval("Promise.reject(new Error('async kaput'))");
    FAIL() << "no exception";
  } catch (const CdpError& e) {
    EXPECT_THAT(e.what(), HasSubstr("async kaput"));
  }
  EXPECT_EQ(page_->eval("new Promise(r => setTimeout(() => r(6 * 7), 10))"), 42);
  EXPECT_TRUE(page_->eval("undefined").is_null());
  try {
    page_->call("No.suchMethod");
    FAIL() << "no exception";
  } catch (const CdpError& e) {
    EXPECT_THAT(e.what(), HasSubstr("No.suchMethod"));
  }
}

TEST_F(CdpTest, WaitForGivesUpWithTheConditionAndThePageText) {
  page_->goto_url(server_.url("/"));
  const auto start = std::chrono::steady_clock::now();
  try {
    page_->wait_for("window.neverSet === 42", 500ms, "the impossible");
    FAIL() << "no exception";
  } catch (const CdpError& e) {
    EXPECT_THAT(e.what(), HasSubstr("the impossible"));
    EXPECT_THAT(e.what(), HasSubstr("window.neverSet === 42"));
    EXPECT_THAT(e.what(), HasSubstr("村务测试页"));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST_F(CdpTest, ClickExplainsWhatItWaitedFor) {
  page_->goto_url(server_.url("/"));
  page_->set_timeout(1s);  // how long click() waits for the element
  page_->eval(R"(document.body.insertAdjacentHTML('beforeend',
      '<div id="veil" style="position:fixed;inset:0;background:#fff8">遮罩</div>'))");
  try {
    page_->click("#greet");
    FAIL() << "no exception";
  } catch (const CdpError& e) {
    EXPECT_THAT(e.what(), HasSubstr("covered by <div id=\"veil\""));
  }
  try {
    page_->click("#no-such-button");
    FAIL() << "no exception";
  } catch (const CdpError& e) {
    EXPECT_THAT(e.what(), HasSubstr("no element matches #no-such-button"));
  }
}

TEST_F(CdpTest, DialogsAreAcceptedAndRecorded) {
  page_->goto_url(server_.url("/"));
  EXPECT_EQ(page_->eval("confirm('删除这条通知？')"), true);
  EXPECT_THAT(page_->dialogs(), Contains("删除这条通知？"));
}

TEST(CdpBrowser, TwoBrowsersInSequenceLeaveNoProcessesBehind) {
  ASSERT_FALSE(Browser::find_executable().empty()) << "no Chromium found";
  FakeHttpServer server(FakeHttpOptions{.handler = serve, .keep_alive = true});
  for (int round = 0; round < 2; ++round) {
    pid_t pid = -1;
    std::filesystem::path dir;
    {
      Browser browser;
      pid = browser.pid();
      ASSERT_GT(pid, 0);
      dir = browser.log_file().parent_path();
      auto page = browser.new_page();
      page->goto_url(server.url("/"));
      page->type("#name", "第" + std::to_string(round + 1) + "轮");
      page->click("#greet");
      EXPECT_EQ(page->text("#out"), "第" + std::to_string(round + 1) + "轮");
      EXPECT_TRUE(std::filesystem::exists(dir));
    }
    EXPECT_FALSE(std::filesystem::exists(dir));  // the profile is removed
    errno = 0;
    EXPECT_EQ(::kill(pid, 0), -1);
    EXPECT_EQ(errno, ESRCH);
    EXPECT_THAT(live_group_members(pid), ::testing::IsEmpty());
  }
}

TEST(CdpBrowser, ADeadBrowserIsAnErrorNotAHang) {
  Browser browser;
  auto page = browser.new_page();
  ::kill(-browser.pid(), SIGKILL);
  const auto start = std::chrono::steady_clock::now();
  try {
    page->eval("1");
    FAIL() << "no exception";
  } catch (const CdpError& e) {
    EXPECT_THAT(e.what(), HasSubstr("connection is gone"));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_THROW(page->goto_url("about:blank"), CdpError);
}

TEST(CdpBrowser, AMissingExecutableIsReportedClearly) {
  try {
    Browser browser(BrowserOptions{.executable = "/nonexistent/chromium"});
    FAIL() << "started anyway";
  } catch (const CdpError& e) {
    EXPECT_THAT(e.what(), HasSubstr("/nonexistent/chromium"));
  }
}

}  // namespace
}  // namespace villagebot::testkit::cdp
