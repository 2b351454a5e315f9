#include "cdp.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "villagebot/crypto.hpp"

namespace villagebot::testkit::cdp {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

std::string ms_text(milliseconds t) {
  return std::to_string(t.count()) + " ms";
}

// VILLAGEBOT_CDP_TRACE=1: each command, the start and the end of the browser, with their times.
void trace(const std::string& what, Clock::time_point since) {
  static const bool on = std::getenv("VILLAGEBOT_CDP_TRACE") != nullptr;
  if (!on) return;
  const auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - since).count();
  std::fprintf(stderr, "[cdp] %-36s %5lld ms\n", what.c_str(), static_cast<long long>(ms));
}

// At most `n` bytes, cut on a UTF-8 character boundary.
std::string clip(std::string s, std::size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s + "…";
}

// The end of Chromium's log, without the D-Bus complaints every start prints in a container.
std::string log_tail(const fs::path& log) {
  std::ifstream in(log);
  std::string line, kept;
  while (std::getline(in, line))
    if (line.find("dbus") == std::string::npos) kept += line + "\n";
  if (kept.size() > 3000) kept = "…" + kept.substr(kept.size() - 3000);
  return kept.empty() ? "" : "\nChromium's log (" + log.string() + "):\n" + kept;
}

bool truthy(const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  if (v.is_string()) return !v.get_ref<const std::string&>().empty();
  return !v.is_null();
}

// j[key], or null when j is no object or has no such key (const operator[] would assert).
const json& field(const json& j, const char* key) {
  static const json none;
  if (!j.is_object()) return none;
  const auto it = j.find(key);
  return it == j.end() ? none : *it;
}

// j[key] when it is a string, else "".
std::string str(const json& j, const char* key) {
  const json& v = field(j, key);
  return v.is_string() ? v.get<std::string>() : "";
}

std::string js_string(const std::string& s) {
  return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

namespace detail {

// One websocket to the browser, served by one thread running the io_context: replies are matched
// to commands by id, events are kept per session (page) for the pages to read.
class Connection {
 public:
  Connection(int port, const std::string& path, milliseconds timeout, fs::path log) : log_(std::move(log)) {
    host_ = "127.0.0.1:" + std::to_string(port);
    path_ = path;
    ws_.read_message_max(std::size_t{256} << 20);  // full-page screenshots
    std::promise<beast::error_code> ready;
    auto done = ready.get_future();
    auto& tcp = beast::get_lowest_layer(ws_);
    tcp.expires_after(timeout);
    const asio::ip::tcp::endpoint at(asio::ip::make_address_v4("127.0.0.1"), static_cast<unsigned short>(port));
    tcp.async_connect(at, [this, &ready, timeout](beast::error_code ec) {
      if (ec) return ready.set_value(ec);
      beast::get_lowest_layer(ws_).expires_never();
      auto options = websocket::stream_base::timeout::suggested(beast::role_type::client);
      options.handshake_timeout = timeout;
      ws_.set_option(options);
      ws_.async_handshake(host_, path_, [this, &ready](beast::error_code hec) {
        if (!hec) read_next();
        ready.set_value(hec);
      });
    });
    thread_ = std::thread([this] { ioc_.run(); });
    std::string error;
    if (done.wait_for(timeout + milliseconds(500)) != std::future_status::ready) {
      error = "no answer within " + ms_text(timeout);
    } else if (const auto ec = done.get()) {
      error = ec.message();
    }
    if (!error.empty()) {
      close();
      throw CdpError("cannot open the DevTools websocket ws://" + host_ + path_ + ": " + error + log_tail(log_));
    }
  }
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  json command(const std::string& method, json params, const std::string& session, milliseconds timeout) {
    json message{{"method", method}, {"params", params.is_null() ? json::object() : std::move(params)}};
    if (!session.empty()) message["sessionId"] = session;
    long id = 0;
    {
      std::lock_guard lock(mutex_);
      if (closed_) throw CdpError(method + ": " + closed_message());
      id = next_id_++;
      replies_[id];
    }
    message["id"] = id;
    send(message.dump(-1, ' ', false, json::error_handler_t::replace));
    const auto sent = Clock::now();
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return replies_[id].has_value() || closed_; });
    trace(method, sent);
    std::optional<json> reply = std::move(replies_[id]);
    replies_.erase(id);
    if (!reply) {
      if (closed_) throw CdpError(method + ": " + closed_message());
      throw CdpError(method + ": no answer from the browser within " + ms_text(timeout));
    }
    lock.unlock();
    if (const auto error = reply->find("error"); error != reply->end()) {
      std::string text = error->value("message", error->dump());
      if (const auto data = error->find("data"); data != error->end())
        text += " (" + (data->is_string() ? data->get<std::string>() : data->dump()) + ")";
      throw CdpError(method + " failed: " + text);
    }
    return reply->value("result", json::object());
  }

  // Waits for an event of `session`, from its `from`-th on, that `match`es.
  json wait_event(const std::string& session, std::size_t from, const std::function<bool(const json&)>& match,
                  milliseconds timeout, const std::string& what) {
    const auto deadline = Clock::now() + timeout;
    std::unique_lock lock(mutex_);
    for (std::size_t next = from;;) {
      if (const auto list = events_.find(session); list != events_.end())
        for (; next < list->second.size(); ++next)
          if (match(list->second[next])) return list->second[next];
      if (closed_) throw CdpError("while waiting for " + what + ": " + closed_message());
      if (Clock::now() >= deadline) throw CdpError("timed out after " + ms_text(timeout) + " waiting for " + what);
      changed_.wait_until(lock, deadline);
    }
  }

  void track(const std::string& session) {
    std::lock_guard lock(mutex_);
    events_[session];
  }
  void forget(const std::string& session) {
    std::lock_guard lock(mutex_);
    events_.erase(session);
  }
  std::vector<json> events(const std::string& session) {
    std::lock_guard lock(mutex_);
    const auto it = events_.find(session);
    return it == events_.end() ? std::vector<json>{} : it->second;
  }
  std::size_t event_count(const std::string& session) {
    std::lock_guard lock(mutex_);
    const auto it = events_.find(session);
    return it == events_.end() ? 0 : it->second.size();
  }
  bool closed() {
    std::lock_guard lock(mutex_);
    return closed_;
  }

  void close() {
    if (thread_.joinable()) {
      asio::post(ioc_, [this] {
        beast::error_code ignored;
        beast::get_lowest_layer(ws_).socket().close(ignored);
        ioc_.stop();
      });
      thread_.join();
    }
    fail("the connection was closed");
  }

 private:
  std::string closed_message() const {
    return "the browser's DevTools connection is gone (" + close_reason_ + "); did Chromium exit or crash?" +
           log_tail(log_);
  }

  // Marks the connection dead and wakes every waiter (any thread).
  void fail(const std::string& why) {
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      closed_ = true;
      close_reason_ = why;
    }
    changed_.notify_all();
  }

  void send(std::string text) {  // any thread
    asio::post(ioc_, [this, text = std::move(text)]() mutable {
      if (failed_) return;
      outbox_.push_back(std::move(text));
      if (outbox_.size() == 1) write_next();
    });
  }

  void write_next() {  // io thread
    ws_.text(true);
    ws_.async_write(asio::buffer(outbox_.front()), [this](beast::error_code ec, std::size_t) {
      if (ec) {
        failed_ = true;
        return fail("writing: " + ec.message());
      }
      outbox_.pop_front();
      if (!outbox_.empty()) write_next();
    });
  }

  void read_next() {  // io thread
    ws_.async_read(buffer_, [this](beast::error_code ec, std::size_t) {
      if (ec) {
        failed_ = true;
        return fail("reading: " + ec.message());
      }
      std::string text = beast::buffers_to_string(buffer_.data());
      buffer_.consume(buffer_.size());
      try {
        on_message(text);
      } catch (const std::exception&) {  // a message of an unexpected shape: not ours to wait for
      }
      read_next();
    });
  }

  void on_message(const std::string& text) {  // io thread
    json message = json::parse(text, nullptr, false);
    if (message.is_discarded() || !message.is_object()) return;
    if (const auto id = message.find("id"); id != message.end()) {
      {
        std::lock_guard lock(mutex_);
        const auto waiting = replies_.find(id->get<long>());
        if (waiting != replies_.end()) waiting->second = std::move(message);
      }
      changed_.notify_all();
      return;
    }
    const std::string session = str(message, "sessionId");
    if (str(message, "method") == "Page.javascriptDialogOpening") {
      // alert/confirm/prompt would block the page (and every evaluation) until answered.
      json answer{{"method", "Page.handleJavaScriptDialog"}, {"params", {{"accept", true}}}, {"sessionId", session}};
      {
        std::lock_guard lock(mutex_);
        answer["id"] = next_id_++;  // its reply is not waited for
      }
      send(answer.dump());
    }
    {
      std::lock_guard lock(mutex_);
      const auto it = events_.find(session);
      if (it != events_.end()) it->second.push_back(std::move(message));
    }
    changed_.notify_all();
  }

  asio::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_{ioc_};
  beast::flat_buffer buffer_;
  std::deque<std::string> outbox_;  // io thread only
  bool failed_ = false;             // io thread only
  std::thread thread_;
  fs::path log_;
  std::string host_, path_;
  std::mutex mutex_;
  std::condition_variable changed_;
  long next_id_ = 1;
  std::map<long, std::optional<json>> replies_;
  std::map<std::string, std::vector<json>> events_;
  bool closed_ = false;
  std::string close_reason_;
};

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Browser

namespace {

// fork/exec in a session (process group) of its own, output to `log`.
pid_t spawn(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<char*> argv;
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const std::string exec_failed = "villagebot cdp: cannot execute " + args.front() + "\n";
  const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out < 0 || in < 0) {
    if (out >= 0) ::close(out);
    if (in >= 0) ::close(in);
    throw CdpError("cannot create " + log.string() + ": " + std::strerror(errno));
  }
  const pid_t pid = ::fork();
  if (pid == 0) {  // only async-signal-safe calls from here on
    ::setsid();
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::close_range(3, ~0U, 0);
    ::execvp(argv[0], argv.data());
    [[maybe_unused]] const auto n = ::write(2, exec_failed.data(), exec_failed.size());
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::close(out);
  ::close(in);
  if (pid < 0) throw CdpError(std::string("fork failed: ") + std::strerror(fork_errno));
  return pid;
}

// "" while the process runs; how it ended once it has (left as a zombie: the pid, and so the
// process group id, stay ours until waitpid).
std::string exit_status(pid_t pid) {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return "";
  if (info.si_code == CLD_EXITED) return "exit code " + std::to_string(info.si_status);
  return "signal " + std::to_string(info.si_status);
}

}  // namespace

std::string Browser::find_executable() {
  if (const char* env = std::getenv("VILLAGEBOT_CHROMIUM"); env != nullptr && *env != '\0') return env;
  std::vector<std::string> dirs{"/usr/bin"};
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::stringstream in(path);
    for (std::string dir; std::getline(in, dir, ':');)
      if (!dir.empty()) dirs.push_back(dir);
  }
  for (const char* name : {"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"})
    for (const auto& dir : dirs)
      if (const std::string candidate = dir + "/" + name; ::access(candidate.c_str(), X_OK) == 0) return candidate;
  return "";
}

Browser::Browser(BrowserOptions options) : options_(std::move(options)) {
  const std::string exe = options_.executable.empty() ? find_executable() : options_.executable;
  if (exe.empty())
    throw CdpError("no Chromium to drive: install it (apt-get install chromium) or set VILLAGEBOT_CHROMIUM");
  std::string dir = (fs::temp_directory_path() / "villagebot-chromium-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) throw CdpError(std::string("mkdtemp failed: ") + std::strerror(errno));
  dir_ = dir;
  log_ = dir_ / "chromium.log";
  const fs::path profile = dir_ / "profile";
  std::vector<std::string> args{
      exe,
      "--headless=new",
      "--remote-debugging-port=0",
      "--user-data-dir=" + profile.string(),
      "--no-sandbox",  // we run as root in a container
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-extensions",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-default-apps",
      "--metrics-recording-only",
      "--mute-audio",
      "--password-store=basic",
      "--hide-scrollbars",
      "--lang=" + options_.locale,
      "--accept-lang=" + options_.locale,  // on Linux --lang alone leaves navigator.language en-US
      "--window-size=" + std::to_string(options_.width) + "," + std::to_string(options_.height)};
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  args.emplace_back("about:blank");
  try {
    const auto started = Clock::now();
    pid_ = spawn(args, log_);
    const auto deadline = started + options_.timeout;
    const fs::path port_file = profile / "DevToolsActivePort";
    for (;;) {
      std::ifstream in(port_file);
      std::string port, path;
      // Line 1 the port, line 2 /devtools/browser/<uuid>; the length check skips a half-written file.
      if (std::getline(in, port) && std::getline(in, path) && path.rfind("/devtools/browser/", 0) == 0 &&
          path.size() >= 18 + 36 && std::stoi(port) > 0) {
        connection_ = std::make_shared<detail::Connection>(std::stoi(port), path, options_.timeout, log_);
        trace("(browser started)", started);
        break;
      }
      if (const auto status = exit_status(pid_); !status.empty())
        throw CdpError(exe + " ended (" + status + ") before DevTools was ready" + log_tail(log_));
      if (Clock::now() >= deadline)
        throw CdpError(exe + " did not open DevTools within " + ms_text(options_.timeout) + log_tail(log_));
      std::this_thread::sleep_for(milliseconds(50));
    }
  } catch (...) {
    shutdown();
    throw;
  }
}

Browser::~Browser() {
  shutdown();
}

void Browser::shutdown() noexcept {
  try {
    const auto stopping = Clock::now();
    bool closing = false;
    if (connection_ != nullptr) {
      try {
        connection_->command("Browser.close", json::object(), "", std::chrono::seconds(5));
        closing = true;
      } catch (const std::exception&) {  // gone or hung: the process group is killed below
      }
    }
    if (pid_ > 0) {
      const auto deadline = Clock::now() + std::chrono::seconds(closing ? 5 : 0);
      while (exit_status(pid_).empty() && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(20));
      // Whatever is left (renderers, GPU process, a hung browser), while the zombie still holds the group id.
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    if (connection_ != nullptr) connection_->close();
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
    trace("(browser stopped)", stopping);
  } catch (...) {  // a destructor: never throws
  }
}

json Browser::call(const std::string& method, json params) {
  return connection_->command(method, std::move(params), "", options_.timeout);
}

std::unique_ptr<Page> Browser::new_page() {
  const auto target = call("Target.createTarget", {{"url", "about:blank"}}).at("targetId").get<std::string>();
  const auto session =
      call("Target.attachToTarget", {{"targetId", target}, {"flatten", true}}).at("sessionId").get<std::string>();
  connection_->track(session);
  std::unique_ptr<Page> page(new Page(connection_, target, session, options_.timeout));
  for (const char* enable : {"Page.enable", "Runtime.enable", "Network.enable", "Log.enable"}) page->call(enable);
  page->call("Page.setLifecycleEventsEnabled", {{"enabled", true}});
  page->call("Emulation.setLocaleOverride", {{"locale", options_.locale}});  // Intl's default locale
  page->set_viewport(options_.width, options_.height);
  return page;
}

// ---------------------------------------------------------------------------------------------
// Page

Page::Page(std::shared_ptr<detail::Connection> connection, std::string target, std::string session,
           milliseconds timeout)
    : connection_(std::move(connection)), target_(std::move(target)), session_(std::move(session)), timeout_(timeout) {}

Page::~Page() {
  try {
    connection_->command("Target.closeTarget", {{"targetId", target_}}, "", std::chrono::seconds(5));
  } catch (const std::exception&) {  // the browser is gone already
  }
  connection_->forget(session_);
}

json Page::call(const std::string& method, json params) {
  return connection_->command(method, std::move(params), session_, timeout_);
}

std::vector<json> Page::events() {
  return connection_->events(session_);
}

void Page::goto_url(const std::string& url) {
  const std::size_t from = connection_->event_count(session_);
  const json result = call("Page.navigate", {{"url", url}});
  if (const auto error = result.value("errorText", ""); !error.empty())
    throw CdpError("cannot open " + url + ": " + error);
  if (!result.contains("loaderId")) return;  // same document (#fragment): no load event
  const json loader = result["loaderId"];
  connection_->wait_event(
      session_, from,
      [&](const json& e) {
        return str(e, "method") == "Page.lifecycleEvent" && str(field(e, "params"), "name") == "load" &&
               field(field(e, "params"), "loaderId") == loader;
      },
      timeout_, "the load event of " + url);
}

json Page::evaluate(const std::string& js, milliseconds timeout) {
  const json result = connection_->command(
      "Runtime.evaluate", {{"expression", js}, {"returnByValue", true}, {"awaitPromise", true}, {"userGesture", true}},
      session_, timeout);
  if (const auto details = result.find("exceptionDetails"); details != result.end()) {
    std::string message = str(*details, "text");
    const json& exception = field(*details, "exception");
    if (!str(exception, "description").empty())
      message = str(exception, "description");
    else if (exception.contains("value"))
      message += " " + exception["value"].dump();
    throw CdpError("JavaScript exception: " + message + "\n  evaluating: " + clip(js, 300));
  }
  const json& value = result.at("result");
  if (value.contains("value")) return value["value"];
  if (value.contains("unserializableValue")) return value["unserializableValue"];  // NaN, Infinity, 1n, …
  return nullptr;                                                                  // undefined, symbols, …
}

json Page::eval(const std::string& js) {
  return evaluate(js, timeout_);
}

json Page::poll(const std::string& js, milliseconds timeout, const std::string& what) {
  const auto deadline = Clock::now() + timeout;
  std::string last;
  for (;;) {
    try {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      json value = evaluate(js, std::max(left, milliseconds(1000)));
      const bool has_ready = value.is_object() && value.contains("ready");
      if (has_ready ? value["ready"] == true : truthy(value)) return value;
      last = has_ready ? str(value, "why") : "";
    } catch (const CdpError& e) {
      if (connection_->closed()) throw;
      last = e.what();
    }
    if (Clock::now() >= deadline) {
      std::string page_text;
      try {
        page_text = evaluate("document.body ? document.body.innerText : ''", milliseconds(2000)).get<std::string>();
      } catch (const std::exception& e) {
        page_text = std::string("(unreadable: ") + e.what() + ")";
      }
      throw CdpError("timed out after " + ms_text(timeout) + " waiting for " + what +
                     "\n  condition: " + clip(js, 500) + (last.empty() ? "" : "\n  last state: " + clip(last, 500)) +
                     "\n  page text: " + clip(page_text, 2000));
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
}

void Page::wait_for(const std::string& js_condition, milliseconds timeout, const std::string& what) {
  poll("!!(" + js_condition + "\n)", timeout, what.empty() ? js_condition : what);
}

namespace {

// Finds the element, scrolls it to the middle of the viewport and checks a person could use it:
// {ready, why, x, y} with (x, y) its centre in CSS pixels.
std::string actionable_js(const std::string& css, bool editable) {
  return "(() => { const sel = " + js_string(css) + R"(;
  const e = document.querySelector(sel);
  if (!e) return {ready: false, why: 'no element matches ' + sel};
  e.scrollIntoView({block: 'center', inline: 'center', behavior: 'instant'});
  const r = e.getBoundingClientRect(), s = getComputedStyle(e);
  if (r.width <= 0 || r.height <= 0 || s.visibility === 'hidden') return {ready: false, why: sel + ' is not visible'};
  if (e.disabled || e.closest('fieldset:disabled')) return {ready: false, why: sel + ' is disabled'};
  if ()" +
         (editable ? "true" : "false") +
         R"( && e.readOnly) return {ready: false, why: sel + ' is read-only'};
  const x = r.left + r.width / 2, y = r.top + r.height / 2, hit = document.elementFromPoint(x, y);
  if (!hit || !(hit === e || e.contains(hit)))
    return {ready: false, why: sel + ' is covered by ' + (hit ? hit.outerHTML.slice(0, 200) : 'nothing')};
  return {ready: true, x, y};
})())";
}

}  // namespace

void Page::click(const std::string& css) {
  const json at = poll(actionable_js(css, false), timeout_, css + " to be clickable");
  const double x = at.at("x").get<double>(), y = at.at("y").get<double>();
  call("Input.dispatchMouseEvent", {{"type", "mouseMoved"}, {"x", x}, {"y", y}});
  for (const char* type : {"mousePressed", "mouseReleased"})
    call("Input.dispatchMouseEvent", {{"type", type},
                                      {"x", x},
                                      {"y", y},
                                      {"button", "left"},
                                      {"buttons", std::string(type) == "mousePressed" ? 1 : 0},
                                      {"clickCount", 1}});
}

void Page::type(const std::string& css, const std::string& text) {
  poll(actionable_js(css, true), timeout_, css + " to be editable");
  eval("(() => { const e = document.querySelector(" + js_string(css) + R"();
  e.focus();
  if (typeof e.select === 'function') { e.select(); return; }
  const range = document.createRange();
  range.selectNodeContents(e);
  getSelection().removeAllRanges();
  getSelection().addRange(range);
})())");
  if (!text.empty()) {
    call("Input.insertText", {{"text", text}});
    return;
  }
  for (const char* type : {"keyDown", "keyUp"})  // clearing: Delete on the selection
    call("Input.dispatchKeyEvent",
         {{"type", type}, {"key", "Delete"}, {"code", "Delete"}, {"windowsVirtualKeyCode", 46}});
}

void Page::select(const std::string& css, const std::string& value) {
  poll("(() => { const sel = " + js_string(css) + ", v = " + js_string(value) + R"(;
  const e = document.querySelector(sel);
  if (!e) return {ready: false, why: 'no element matches ' + sel};
  if (!(e instanceof HTMLSelectElement)) return {ready: false, why: sel + ' is not a <select>'};
  if (e.disabled) return {ready: false, why: sel + ' is disabled'};
  if (![...e.options].some(o => o.value === v))
    return {ready: false, why: 'no option ' + v + ' in ' + [...e.options].map(o => o.value).join(', ')};
  e.value = v;
  e.dispatchEvent(new Event('input', {bubbles: true}));
  e.dispatchEvent(new Event('change', {bubbles: true}));
  return {ready: true};
})())",
       timeout_, "option " + value + " of " + css);
}

void Page::set_files(const std::string& css, const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const auto& path : paths) {
    if (!fs::exists(path)) throw CdpError("set_files: no such file " + path);
    files.push_back(fs::absolute(path).string());
  }
  wait_for("document.querySelector(" + js_string(css) + ") instanceof HTMLInputElement", timeout_, css);
  const int root = call("DOM.getDocument", {{"depth", 0}}).at("root").at("nodeId").get<int>();
  const int node = call("DOM.querySelector", {{"nodeId", root}, {"selector", css}}).value("nodeId", 0);
  if (node == 0) throw CdpError("set_files: no element matches " + css);
  call("DOM.setFileInputFiles", {{"files", files}, {"nodeId", node}});
}

std::string Page::text(const std::string& css) {
  const json value =
      eval("(() => { const e = document.querySelector(" + js_string(css) + "); return e ? e.innerText : ''; })()");
  return value.is_string() ? value.get<std::string>() : "";
}

void Page::screenshot(const fs::path& png) {
  const json shot = call("Page.captureScreenshot", {{"format", "png"}});
  const auto bytes = villagebot::crypto::base64_decode(shot.at("data").get<std::string>());
  if (!bytes) throw CdpError("Page.captureScreenshot: the image is not valid base64");
  if (png.has_parent_path()) fs::create_directories(png.parent_path());
  std::ofstream out(png, std::ios::binary | std::ios::trunc);
  out.write(bytes->data(), static_cast<std::streamsize>(bytes->size()));
  if (!out.flush()) throw CdpError("cannot write " + png.string());
}

void Page::set_viewport(int width, int height, bool mobile) {
  call("Emulation.setDeviceMetricsOverride",
       {{"width", width}, {"height", height}, {"deviceScaleFactor", 1}, {"mobile", mobile}});
  call("Emulation.setTouchEmulationEnabled", {{"enabled", mobile}});
}

std::vector<std::string> Page::requests() {
  std::vector<std::string> urls;
  for (const auto& e : events())
    if (str(e, "method") == "Network.requestWillBeSent")
      urls.push_back(str(field(field(e, "params"), "request"), "url"));
  return urls;
}

std::vector<std::string> Page::console_errors() {
  std::vector<std::string> errors;
  for (const auto& e : events()) {
    const std::string method = str(e, "method");
    const json& p = field(e, "params");
    if (method == "Runtime.exceptionThrown") {
      const json& details = field(p, "exceptionDetails");
      const std::string description = str(field(details, "exception"), "description");
      errors.push_back(str(details, "text") + (description.empty() ? "" : " " + description));
    } else if (method == "Runtime.consoleAPICalled" && str(p, "type") == "error") {
      std::string text;
      for (const auto& arg : field(p, "args")) {
        if (!text.empty()) text += " ";
        const json& value = field(arg, "value");
        if (value.is_string())
          text += value.get<std::string>();
        else if (!value.is_null())
          text += value.dump();
        else
          text += str(arg, "description").empty() ? str(arg, "type") : str(arg, "description");
      }
      errors.push_back(text);
    } else if (method == "Log.entryAdded" && str(field(p, "entry"), "level") == "error") {
      const json& entry = field(p, "entry");
      const std::string url = str(entry, "url");
      errors.push_back(str(entry, "text") + (url.empty() ? "" : " (" + url + ")"));
    }
  }
  return errors;
}

std::vector<std::string> Page::dialogs() {
  std::vector<std::string> messages;
  for (const auto& e : events())
    if (str(e, "method") == "Page.javascriptDialogOpening") messages.push_back(str(field(e, "params"), "message"));
  return messages;
}

}  // namespace villagebot::testkit::cdp
