// The parts of the tree depend on each other one way: each folder includes only the parts below
// it (and itself). A new include that runs back up, or across (evaluation/ and pipeline/), fails
// here, naming the file, the line and the folders it may include.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

// What each part may include, lowest first. The files at the top of experiments/ (config,
// settings, batches, table rows) are the base every part of the command reads its settings and
// batches from.
const std::vector<std::pair<std::string, std::vector<std::string>>>& layers() {
  static const std::vector<std::string> base = {"autograd/", "ops/", "nn/", "losses/", "io/"};
  static const std::vector<std::string> top = {"experiments/config.h", "experiments/settings.h",
                                               "experiments/batches.h", "experiments/table_rows.h"};
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  static const auto commands_base = with(base, top);
  static const std::vector<std::pair<std::string, std::vector<std::string>>> all = {
      {"autograd/", {"autograd/"}},
      {"ops/", {"autograd/", "ops/"}},
      {"nn/", {"autograd/", "ops/", "nn/"}},
      {"losses/", {"autograd/", "ops/", "nn/", "losses/"}},
      {"io/", {"autograd/", "io/"}},
      {"experiments/evaluation/", with(commands_base, {"experiments/evaluation/"})},
      {"experiments/methods/", with(commands_base, {"experiments/methods/"})},
      {"experiments/profile/", with(commands_base, {"experiments/methods/", "experiments/profile/"})},
      {"experiments/pipeline/",
       with(commands_base, {"experiments/evaluation/", "experiments/methods/", "experiments/pipeline/"})},
      {"experiments/cli/", with(commands_base, {"experiments/"})},
      {"experiments/", commands_base},  // the top files themselves
  };
  return all;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

TEST(Layers, EveryIncludePointsDown) {
  namespace fs = std::filesystem;
  const fs::path root = CONTRASEG_SOURCE_DIR;
  const std::regex include(R"(^\s*#\s*include\s+"([^"]+)\")");
  std::vector<std::string> wrong;
  std::map<std::string, int> files;
  for (const char* part : {"autograd", "ops", "nn", "losses", "io", "experiments"})
    for (const auto& e : fs::recursive_directory_iterator(root / part)) {
      const std::string ext = e.path().extension().string();
      if (ext != ".cpp" && ext != ".h" && ext != ".cu" && ext != ".cuh") continue;
      const std::string rel = fs::relative(e.path(), root).string();
      const auto layer = std::find_if(layers().begin(), layers().end(),
                                      [&](const auto& l) { return starts_with(rel, l.first); });
      ASSERT_NE(layer, layers().end()) << rel;
      ++files[layer->first];
      std::ifstream in(e.path());
      std::string line;
      std::smatch m;
      for (int n = 1; std::getline(in, line); ++n) {
        if (!std::regex_search(line, m, include)) continue;
        const std::string target = m[1];
        if (target.find('/') == std::string::npos) continue;  // generated or system-like headers
        const auto& allowed = layer->second;
        if (std::none_of(allowed.begin(), allowed.end(), [&](const std::string& a) { return starts_with(target, a); }))
          wrong.push_back(rel + ":" + std::to_string(n) + ": includes " + target);
      }
    }
  EXPECT_GT(files["ops/"], 10);  // the tree was found
  EXPECT_GT(files["experiments/pipeline/"], 10);
  std::ostringstream all;
  for (const auto& w : wrong) all << w << "\n";
  EXPECT_TRUE(wrong.empty()) << "includes that run up or across the layers (tests/experiments/test_layers.cpp):\n"
                             << all.str();
}

}  // namespace
