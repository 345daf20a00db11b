// The reader never crashes: inputs found by fuzzing (tests/fixtures/nifti/fuzz/, see
// scripts/fuzz-nifti.sh) and deterministic corruptions of good files either read or throw
// std::runtime_error naming the file.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>

#include "support/io_test_util.h"
#include "io/formats/nifti.h"

namespace cs {
namespace {

using testing_io::TempDir;

// Reads `path` every way; returns true if it read, false if it threw an error naming the file.
bool read_or_clean_error(const std::string& path) {
  try {
    read_nifti_info(path);
    const auto vols = read_nifti_all(path);
    for (const auto& v : vols) EXPECT_EQ(v.data.size(), v.size());
    return true;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    return false;
  }
}

TEST(NiftiRobustness, FuzzRegressionInputs) {
  const std::string dir = testing_io::fixture("fuzz");
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << "no fuzz regression inputs";
  TempDir tmp;
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().filename().string()[0] == '.') continue;
    // the name decides compressed or not, as in the fuzzer
    const auto bytes = testing_io::read_bytes(e.path().string());
    const bool gz = bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
                    static_cast<unsigned char>(bytes[1]) == 0x8b;
    const std::string p = tmp / (e.path().stem().string() + (gz ? ".nii.gz" : ".nii"));
    testing_io::write_bytes(p, bytes);
    SCOPED_TRACE(e.path().string());
    read_or_clean_error(p);
    ++n;
  }
  EXPECT_GT(n, 0);
}

TEST(NiftiRobustness, CorruptedHeadersNeverCrash) {
  TempDir tmp;
  std::mt19937 rng(12345);
  int read = 0, rejected = 0;
  for (const char* name : {"float32.nii", "int16_scaled.nii", "int16_bigendian.nii"}) {
    const auto good = testing_io::read_bytes(testing_io::fixture(name));
    for (int it = 0; it < 150; ++it) {
      auto b = good;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) {
        // mostly the header fields that size and place the data
        const size_t pos = rng() % 4 ? 40 + rng() % 80 : rng() % b.size();
        b[pos] = static_cast<char>(rng() % 3 == 0 ? 0xff : rng() % 256);
      }
      const std::string p = tmp / "c.nii";
      testing_io::write_bytes(p, b);
      (read_or_clean_error(p) ? read : rejected)++;
    }
  }
  // both outcomes occur: the corruption hits harmless fields as well as critical ones
  EXPECT_GT(read, 0);
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace cs
