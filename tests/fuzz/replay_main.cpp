// The test build's driver for a fuzz target (tests/fuzz/CMakeLists.txt): no libFuzzer, no clang.
// Feeds LLVMFuzzerTestOneInput every file of the folders and files named on the command line (the
// seed corpus and the regressions: every crash ever found), and for each of them its prefixes and
// copies with bytes changed, so that the gcc ASan/UBSan build walks the parser's edges too.
// Exits 1 if a folder is missing or no input was found: a replay of nothing proves nothing.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

void run(const std::string& bytes) {
  // A copy in its own allocation, exactly as long as the input, so that ASan sees a read past the end.
  std::vector<std::uint8_t> copy(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(copy.empty() ? nullptr : copy.data(), copy.size());
}

std::size_t variants(const std::string& bytes) {
  std::size_t runs = 0;
  run(bytes);
  ++runs;
  const std::size_t n = bytes.size();
  const std::size_t step = std::max<std::size_t>(1, n / 128);
  for (std::size_t cut = 0; cut < n; cut += step) {  // every prefix (or 128 of them)
    run(bytes.substr(0, cut));
    ++runs;
  }
  static constexpr unsigned char kBytes[] = {0x00, 0xff, 0x80, '"', '\\', '<', ',', '\n', '%', '0'};
  std::size_t k = 0;
  for (std::size_t at = 0; at < n; at += step) {  // one byte changed, at 128 places at most
    std::string changed = bytes;
    changed[at] = static_cast<char>(kBytes[k++ % std::size(kBytes)]);
    run(changed);
    ++runs;
  }
  run(bytes + bytes);  // twice over
  ++runs;
  return runs;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  std::size_t files = 0;
  std::size_t runs = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path root = argv[i];
    std::vector<std::filesystem::path> inputs;
    if (std::filesystem::is_directory(root)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(root))
        if (entry.is_regular_file() && entry.path().filename() != "README.md") inputs.push_back(entry.path());
    } else if (std::filesystem::is_regular_file(root)) {
      inputs.push_back(root);
    } else if (root.parent_path().filename() == "regressions") {
      continue;  // no crash found yet for this target: nothing to replay
    } else {
      std::fprintf(stderr, "replay: %s does not exist\n", root.c_str());
      return 1;
    }
    std::sort(inputs.begin(), inputs.end());
    for (const auto& path : inputs) {
      std::ifstream in(path, std::ios::binary);
      const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      runs += variants(bytes);
      ++files;
    }
  }
  std::printf("replayed %zu inputs (%zu runs with prefixes and changed bytes): no crash, no sanitizer report\n", files,
              runs);
  if (files == 0) {
    std::fprintf(stderr, "replay: no input found; a fuzz target needs a seed corpus\n");
    return 1;
  }
  return 0;
}
