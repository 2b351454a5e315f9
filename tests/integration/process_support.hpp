#pragma once
// Shared by the tests that run the real binary.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "process.hpp"
#include "testkit.hpp"

namespace villagebot::testkit {

struct ProcessVillage {
  std::filesystem::path dir = make_temp_dir("villagebot-proc");
  std::filesystem::path config = dir / "villagebot.toml";
  std::filesystem::path db = dir / "villagebot.db";

  ProcessVillage(const std::vector<std::string>& plugins, const std::string& plugin_sections = "",
                 const std::string& adapter_extra = "", bool import_village = true) {
    std::string toml = "[server]\nlisten = \"127.0.0.1:0\"\nthreads = 2\nshutdown_grace_ms = 5000\n\n";
    toml += "[storage]\npath = \"" + db.string() +
            "\"\n\n[pipeline]\nrate_limit_messages = 0\nhandler_timeout_ms = 10000\n\n";
    toml += "[plugins]\ndir = \"" VILLAGEBOT_MODULE_DIR "\"\nenabled = [";
    for (std::size_t i = 0; i < plugins.size(); ++i) toml += (i ? ", \"" : "\"") + plugins[i] + "\"";
    toml += "]\n" + plugin_sections + "\n\n[[adapters]]\nid = \"generic\"\ntype = \"generic-webhook\"\n" +
            adapter_extra + "\n";
    std::ofstream(config) << toml;
    if (import_village) {
      const auto csv = dir / "people.csv";
      std::ofstream(csv) << kSmallVillageCsv;
      auto r = run({VILLAGEBOT_EXE, "import", "people", csv.string(), "--config", config.string()});
      if (r.exit_code != 0) throw std::runtime_error("import failed: " + r.out + r.err);
    }
  }
  ~ProcessVillage() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  [[nodiscard]] std::vector<std::string> serve_args() const {
    return {VILLAGEBOT_EXE, "serve", "--config", config.string()};
  }
};

}  // namespace villagebot::testkit
