#pragma once
// A small Chrome DevTools Protocol driver for end-to-end tests of the web console: starts a
// headless Chromium on a fresh profile, opens pages, and acts on them the way a person would
// (real mouse clicks, real text input), then reads what the page shows, requested and logged.
//
//   cdp::Browser browser;
//   auto page = browser.new_page();
//   page->goto_url(server.url("/"));
//   page->type("#name", "张三");
//   page->click("#save");
//   page->wait_for("document.querySelector('#status').innerText.includes('已保存')", 5s, "the saved notice");
//
// Every wait has a timeout and a browser that dies is reported as a CdpError, never a hang.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace villagebot::testkit::cdp {

struct CdpError : std::runtime_error {
  using runtime_error::runtime_error;
};

struct BrowserOptions {
  // "" → $VILLAGEBOT_CHROMIUM, else the first of chromium, chromium-browser, google-chrome found.
  std::string executable = "";
  int width = 1366, height = 768;
  // For starting the browser, each protocol command, each page load and the default wait.
  std::chrono::milliseconds timeout{15000};
  // navigator.language, Accept-Language and Intl's default locale of every page.
  std::string locale = "zh-CN";
  std::vector<std::string> extra_args{};  // appended to the command line
};

namespace detail {
class Connection;
}

class Page {
 public:
  ~Page();  // closes the tab; never throws
  Page(const Page&) = delete;
  Page& operator=(const Page&) = delete;

  // A protocol command on this page's session; the protocol's error message as a CdpError.
  nlohmann::json call(const std::string& method, nlohmann::json params = nlohmann::json::object());
  // Page.navigate, then waits for the page's load event.
  void goto_url(const std::string& url);
  // Runtime.evaluate (awaiting promises); the value as JSON (undefined → null). A JavaScript
  // exception becomes a CdpError with its message.
  nlohmann::json eval(const std::string& js);
  // Polls the expression every 50 ms until it is truthy; on timeout a CdpError naming `what`,
  // the condition and the start of the page's text.
  void wait_for(const std::string& js_condition, std::chrono::milliseconds timeout = std::chrono::seconds(15),
                const std::string& what = "");

  // Waits until the element exists, is visible, enabled and not covered, scrolls it into view
  // and clicks its centre with the mouse.
  void click(const std::string& css);
  // Focuses the element, selects what it holds and inserts `text` as typed input.
  void type(const std::string& css, const std::string& text);
  // Chooses the <option> with this value and fires input and change.
  void select(const std::string& css, const std::string& value);
  // Chooses files in an <input type=file> (fires input and change).
  void set_files(const std::string& css, const std::vector<std::string>& paths);
  // innerText of the first match ("" when nothing matches).
  std::string text(const std::string& css);

  void screenshot(const std::filesystem::path& png);
  void set_viewport(int width, int height, bool mobile = false);

  // URLs of every request the page sent so far, in order.
  std::vector<std::string> requests();
  // Uncaught exceptions, console.error messages and browser errors (failed loads, …).
  std::vector<std::string> console_errors();
  // Messages of alert/confirm/prompt dialogs, which are accepted automatically.
  std::vector<std::string> dialogs();

  // How long commands, loads and the element waits of click/type/select/set_files may take.
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
  [[nodiscard]] const std::string& session_id() const { return session_; }

 private:
  friend class Browser;
  Page(std::shared_ptr<detail::Connection> connection, std::string target, std::string session,
       std::chrono::milliseconds timeout);
  nlohmann::json evaluate(const std::string& js, std::chrono::milliseconds timeout);
  // Evaluates `js` every 50 ms until it returns something truthy, or an object whose "ready" is
  // true (its "why" otherwise explains the wait); returns that value.
  nlohmann::json poll(const std::string& js, std::chrono::milliseconds timeout, const std::string& what);
  std::vector<nlohmann::json> events();
  std::shared_ptr<detail::Connection> connection_;
  std::string target_;
  std::string session_;
  std::chrono::milliseconds timeout_;
};

class Browser {
 public:
  explicit Browser(BrowserOptions options = {});
  ~Browser();  // closes the browser, kills what is left of it, removes the profile; never throws
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  std::unique_ptr<Page> new_page();
  // A protocol command on the browser itself (Browser.getVersion, Target.getTargets, …).
  nlohmann::json call(const std::string& method, nlohmann::json params = nlohmann::json::object());

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] const std::filesystem::path& log_file() const { return log_; }
  // The browser to start by default; "" when none is installed.
  static std::string find_executable();

 private:
  void shutdown() noexcept;
  BrowserOptions options_;
  std::filesystem::path dir_;  // temporary: profile/ and chromium.log
  std::filesystem::path log_;
  pid_t pid_ = -1;
  std::shared_ptr<detail::Connection> connection_;
};

}  // namespace villagebot::testkit::cdp
