#pragma once
// The chat adapters' integration tests share this: a local HTTPS server impersonating a
// platform's API (a CA made at test time, keep-alive, answers from the test's handler), the
// [http_client] and [delivery] config that trusts it and retries fast, the requests it got by
// path, and the TestServer running the adapter.
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fake_http.hpp"
#include "testkit.hpp"
#include "tls.hpp"

namespace villagebot::testkit {

class PlatformTest : public ::testing::Test {
 protected:
  void start_platform(std::function<FakeResponse(const ReceivedRequest&)> handler) {
    pki_dir_ = make_temp_dir("villagebot-platform-pki");
    pki_ = make_test_pki(pki_dir_);
    FakeHttpOptions o;
    o.cert_file = pki_.server_cert.string();
    o.key_file = pki_.server_key.string();
    o.keep_alive = true;
    o.handler = std::move(handler);
    api_ = std::make_unique<FakeHttpServer>(o);
  }
  // Appended to an adapter's [[adapters]] entry: trust the test CA, no proxy, quick retries.
  [[nodiscard]] std::string client_toml() const {
    return "\n[http_client]\nca_file = \"" + pki_.ca_cert.string() +
           "\"\nhttps_proxy = \"none\"\n\n[delivery]\nretry_base_ms = 50\n";
  }
  // The requests the platform got whose path (and query) starts with `prefix`.
  std::vector<ReceivedRequest> to(const std::string& prefix) {
    std::vector<ReceivedRequest> out;
    for (auto& r : api_->wait_for(0, std::chrono::milliseconds(0)))
      if (r.target.starts_with(prefix)) out.push_back(r);
    return out;
  }
  void TearDown() override {
    server_.reset();
    api_.reset();
    std::error_code ec;
    std::filesystem::remove_all(pki_dir_, ec);
  }

  std::filesystem::path pki_dir_;
  TestPki pki_;
  std::unique_ptr<FakeHttpServer> api_;
  std::unique_ptr<TestServer> server_;
};

}  // namespace villagebot::testkit
