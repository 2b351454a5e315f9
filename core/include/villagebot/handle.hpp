#pragma once
#include <functional>
#include <utility>

namespace villagebot {

// An RAII registration: destroying it undoes what was registered (a command, a
// route, a subscription). Stopping a plugin therefore leaves nothing behind.
class Registration {
 public:
  Registration() = default;
  explicit Registration(std::function<void()> undo) : undo_(std::move(undo)) {}
  Registration(Registration&& other) noexcept : undo_(std::exchange(other.undo_, nullptr)) {}
  Registration& operator=(Registration&& other) noexcept {
    if (this != &other) {
      reset();
      undo_ = std::exchange(other.undo_, nullptr);
    }
    return *this;
  }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  ~Registration() { reset(); }

  void reset() noexcept {
    if (auto undo = std::exchange(undo_, nullptr)) {
      try {
        undo();
      } catch (...) {  // an undo must never escape a destructor
      }
    }
  }
  [[nodiscard]] bool active() const noexcept { return static_cast<bool>(undo_); }

 private:
  std::function<void()> undo_;
};

}  // namespace villagebot
