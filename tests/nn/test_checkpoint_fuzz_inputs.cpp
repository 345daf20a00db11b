// Inputs that once broke a reader or that probe its limits (tests/fixtures/safetensors/fuzz/ and
// tests/fixtures/config/fuzz/, see scripts/fuzz.sh): each either reads or throws an exception that
// names the file; none may crash. The config inputs live here too because both sets are replayed
// the same way.
#include <gtest/gtest.h>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "experiments/config.h"
#include "nn/adam.h"
#include "nn/checkpoint.h"
#include "nn/safetensors.h"

namespace cs {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> inputs(const std::string& target) {
  const fs::path dir = fs::path(CONTRASEG_SOURCE_DIR) / "tests" / "fixtures" / target / "fuzz";
  std::vector<std::string> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

// Runs `f`; true if it returned, false if it threw an exception naming `path`.
template <class F>
bool reads_or_names_file(const std::string& path, F&& f) {
  try {
    f();
    return true;
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    return false;
  }
}

// The tensors of the fuzzer's seed checkpoints (tests/fuzz/safetensors_fuzz.cpp).
void declare_fuzz_store(ParamStore& s) {
  s.declare_param("conv.w", {3, 3, 1, 4}, ParamKind::ConvWeight);
  s.declare_param("conv.b", {4}, ParamKind::ConvBias);
  s.declare_buffer("conv.bn.mean", {4}, ParamKind::BNMean);
  s.allocate();
}

TEST(FuzzInputs, SafetensorsReadOrFailCleanly) {
  const auto files = inputs("safetensors");
  if (files.empty()) GTEST_SKIP() << "no safetensors fuzz inputs";
  ParamStore store;
  declare_fuzz_store(store);
  Adam adam(store);
  for (const auto& p : files) {
    SCOPED_TRACE(p);
    reads_or_names_file(p, [&] {
      const SafeTensorsReader r(p);
      for (const auto& name : r.names()) {
        const auto numel = static_cast<size_t>(shape_numel(r.info(name).shape));
        if (r.info(name).dtype == "F32") {
          EXPECT_EQ(r.read_floats(name).size(), numel) << name;
        }
      }
    });
    reads_or_names_file(p, [&] {
      CheckpointLoadOptions resume;
      resume.adam = &adam;
      load_checkpoint(p, store, resume);
    });
  }
}

TEST(FuzzInputs, ConfigsLoadOrFailCleanly) {
  const auto files = inputs("config");
  if (files.empty()) GTEST_SKIP() << "no config fuzz inputs";
  for (const auto& p : files) {
    SCOPED_TRACE(p);
    reads_or_names_file(p, [&] {
      Config c;
      c.load_file(p);
    });
  }
}

}  // namespace
}  // namespace cs
