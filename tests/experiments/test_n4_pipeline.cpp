// N4 in the pipeline: `contraseg preprocess --n4`, the n4 / n4_cache keys and DataSource's
// corrected images (docs/method.md §6.2). Without ITK only the errors are checked.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include "experiments/config.h"
#include "experiments/pipeline/data.h"
#include "experiments/settings.h"
#include "io/datasets/n4.h"
#include "io/datasets/n4_cache.h"
#include "io/formats/nifti.h"
#include "support/io_test_util.h"

namespace cs {
namespace {

using testing_io::contains;
using testing_io::run_contraseg;
using testing_io::TempDir;

// An ACDC folder of `n` tiny cases (40x36x4 at 1.8 x 1.8 x 10 mm: N4 takes a fraction of a
// second on each): a body holding a brighter ellipse, both under a smooth field, and its label.
std::string tiny_dataset(const TempDir& t, int n) {
  const std::string data = t / "data";
  for (int k = 1; k <= n; ++k) {
    const std::string id = fmt::format("patient{:03d}", k);
    Volume img = make_volume(40, 36, 4, 1.8f, 1.8f, 10.f), lab = img;
    for (int z = 0; z < img.nz; ++z)
      for (int y = 0; y < img.ny; ++y)
        for (int x = 0; x < img.nx; ++x) {
          const double u = (x + 0.5) / img.nx - 0.5, w = (y + 0.5) / img.ny - 0.5;
          const bool inner = u * u / 0.06 + w * w / 0.04 < 1;
          const double texture = 1 + 0.03 * std::sin(0.9 * x + 1.7 * y + 2.3 * z + k);
          const double field = std::exp(0.5 * u - 0.3 * w + 0.1 * k * u * w);
          img.at(x, y, z) = static_cast<float>((inner ? 180 : 100) * texture * field);
          lab.at(x, y, z) = inner ? 3.f : 0.f;
        }
    std::filesystem::create_directories(data + "/" + id);
    write_nifti_image(data + "/" + id + "/" + id + "_frame01.nii.gz", img);
    write_nifti_label(data + "/" + id + "/" + id + "_frame01_gt.nii.gz", lab);
  }
  return data;
}

TEST(N4Pipeline, PreprocessN4IsDifferentAndReproducible) {
  TempDir t;
  const std::string data = tiny_dataset(t, 2);
  const std::string base = "preprocess --dataset acdc --data '" + data + "' --out '";
  if (!n4_available()) {
    const auto r = run_contraseg(base + t / "n4" + "' --n4");
    EXPECT_NE(r.status, 0);
    EXPECT_TRUE(contains(r.err, "preprocess --n4: N4 bias-field correction needs ITK")) << r.err;
    EXPECT_FALSE(std::filesystem::exists(t / "n4"));
    return;
  }
  auto r = run_contraseg(base + t / "plain" + "'");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  r = run_contraseg(base + t / "n4a" + "' --n4 --n4-cache '" + t / "cache_a" + "'");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "N4 case 001: correcting 40x36x4")) << r.out;
  EXPECT_TRUE(contains(r.out, "-> " + t / "cache_a/")) << r.out;
  // A fresh cache: computed again, to the same bytes.
  r = run_contraseg(base + t / "n4b" + "' --n4 --n4-cache '" + t / "cache_b" + "'");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  // The first cache again: read, nothing computed.
  r = run_contraseg(base + t / "n4c" + "' --n4 --n4-cache '" + t / "cache_a" + "'");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_FALSE(contains(r.out, "correcting")) << r.out;
  for (const std::string id : {"001", "002"}) {
    const std::string img = "/" + id + "/img_cropped.nii.gz";
    const Volume plain = read_nifti(t / "plain" + img), a = read_nifti(t / "n4a" + img);
    EXPECT_EQ(testing_io::read_bytes(t / "n4a" + img), testing_io::read_bytes(t / "n4b" + img)) << id;
    EXPECT_EQ(testing_io::read_bytes(t / "n4a" + img), testing_io::read_bytes(t / "n4c" + img)) << id;
    double diff = 0;
    for (size_t i = 0; i < plain.size(); ++i)
      diff = std::max(diff, static_cast<double>(std::fabs(a.data[i] - plain.data[i])));
    EXPECT_GT(diff, 1e-3) << id << ": N4 changed nothing";
    // the labels do not pass through N4
    EXPECT_EQ(testing_io::read_bytes(t / "plain/" + id + "/mask_cropped.nii.gz"),
              testing_io::read_bytes(t / "n4a/" + id + "/mask_cropped.nii.gz"));
  }
  r = run_contraseg(base + t / "x" + "' --n4-cache '" + t / "cache_a" + "'");
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "add --n4")) << r.err;
}

Settings settings_with(const std::vector<std::string>& sets) {
  Config c;
  for (const auto& kv : sets) c.apply_override(kv);
  c.validate();
  return resolve_settings(c);
}

TEST(N4Pipeline, KeysAndTheWeightHash) {
  const auto keys = weight_keys(Stage::Finetune);
  EXPECT_NE(std::find(keys.begin(), keys.end(), "n4"), keys.end());  // it changes the data
  EXPECT_EQ(std::find(keys.begin(), keys.end(), "n4_cache"), keys.end());  // a location only
  EXPECT_FALSE(settings_with({}).data.n4);
  if (!n4_available()) {
    try {
      settings_with({"n4=true"});
      FAIL() << "n4 = true resolved on a build without ITK";
    } catch (const std::runtime_error& e) {
      EXPECT_TRUE(contains(e.what(), "n4 = true: N4 bias-field correction needs ITK")) << e.what();
    }
    return;
  }
  const Settings s = settings_with({"n4=true", "n4_cache=/somewhere/n4"});
  EXPECT_TRUE(s.data.n4);
  EXPECT_EQ(s.data.n4_cache, "/somewhere/n4");
  EXPECT_EQ(settings_with({"n4=true"}).data.n4_cache, default_n4_cache_dir());
}

TEST(N4Pipeline, DataSourceReadsCorrectedImages) {
  if (!n4_available()) GTEST_SKIP() << "this build has no ITK";
  TempDir t;
  const std::string data = tiny_dataset(t, 7);  // a split needs 7 cases
  write_folder_split(data, "auto", "acdc", data + "/splits.json");
  const Settings plain = settings_with({"data=" + data});
  const Settings n4 = settings_with({"data=" + data, "n4=true", "n4_cache=" + t / "cache"});
  const auto a = DataSource(plain).prepare({"001"}, true, true, "");
  const auto b = DataSource(n4).prepare({"001"}, true, true, "");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_NE(a[0].stack.image, b[0].stack.image);
  EXPECT_EQ(a[0].stack.label, b[0].stack.label);
  // what prepare gives is the corrected volume, preprocessed
  const Volume native = read_nifti(data + "/patient001/patient001_frame01.nii.gz");
  EXPECT_EQ(b[0].native_image.data, n4_bias_correct(native).data);
  // check_cases goes through the cache too: its entry is there, and read again without a note
  DataSource(n4).check_cases({{"test", {"002"}, true}});
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(t / "cache"), {}), 2);
}

// A run trained on corrected images predicts on a corrected image too: predict goes through the
// same cache (here emptied first, so it computes the entry) and gives evaluate's labels.
TEST(N4Pipeline, PredictCorrectsItsInputLikeTheRun) {
  if (!n4_available()) GTEST_SKIP() << "this build has no ITK";
  TempDir t;
  const std::string data = tiny_dataset(t, 7), run = t / "ft", cache = t / "cache";
  const Splits split = write_folder_split(data, "auto", "acdc", data + "/splits.json");
  auto r = run_contraseg("finetune --data " + data + " --set n4=true --set n4_cache=" + cache +
                         " --set image_size=32 --set target_res=8 --set finetune.iterations=2 --set finetune.batch=2"
                         " --set finetune.val_every=1 --labeled tr1 --comb c1 --quiet --out " + run);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  std::filesystem::remove_all(cache);
  const std::string id = split.test().front(), image = fmt::format("{}/patient{}/patient{}_frame01.nii.gz", data, id, id);
  r = run_contraseg("predict --run " + run + " --image " + image + " --out " + t / "pred.nii.gz");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(cache), {}), 1) << r.out;  // computed and kept
  const std::string evaluated = run + "/eval/predictions/" + id + ".nii.gz";
  ASSERT_TRUE(std::filesystem::exists(evaluated)) << evaluated;
  EXPECT_EQ(read_nifti(t / "pred.nii.gz").data, read_nifti(evaluated).data);
}

}  // namespace
}  // namespace cs
