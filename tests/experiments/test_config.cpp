// Config resolution: defaults, JSON file, --set overrides, and clear errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <unistd.h>

#include <fstream>

#include "experiments/config.h"
#include "experiments/data.h"
#include "io/preprocess.h"
#include "nn/unet.h"

namespace cs {
namespace {

std::string write_temp(const std::string& text) {
  char name[] = "/tmp/cs_config_XXXXXX";
  const int fd = mkstemp(name);
  close(fd);
  std::ofstream(name) << text;
  return name;
}

TEST(Config, DefaultsFollowTheSpec) {
  Config c;
  EXPECT_EQ(c.str("compat"), "paper");
  EXPECT_DOUBLE_EQ(c.real("lr"), 1e-3);
  EXPECT_DOUBLE_EQ(c.real("global.tau"), 0.1);
  EXPECT_EQ(c.integer("global.iterations"), 10001);
  EXPECT_EQ(c.integer("finetune.batch"), 20);
  EXPECT_EQ(c.integer("local.batch"), 10);
  EXPECT_EQ(c.integer("local.blocks"), 3);
}

TEST(Config, FileThenOverride) {
  const auto path = write_temp(R"({"dataset": "mmwhs", "global": {"iterations": 50, "tau": 0.5}})");
  Config c;
  c.load_file(path);
  c.apply_override("global.iterations=7");
  EXPECT_EQ(c.str("dataset"), "mmwhs");
  EXPECT_EQ(c.integer("global.iterations"), 7);
  EXPECT_DOUBLE_EQ(c.real("global.tau"), 0.5);
  std::remove(path.c_str());
}

TEST(Config, ErrorsNameTheKeyAndFile) {
  const auto path = write_temp(R"({"global": {"iteratons": 5}})");
  Config c;
  try {
    c.load_file(path);
    FAIL() << "unknown key accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("global.iteratons"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
  std::remove(path.c_str());
  EXPECT_THROW(c.apply_override("lr=fast"), std::invalid_argument);
  EXPECT_THROW(c.apply_override("compat=tf"), std::invalid_argument);
  EXPECT_THROW(c.apply_override("nokey"), std::invalid_argument);
  EXPECT_THROW(c.apply_override("seed=-3"), std::invalid_argument);
}

TEST(Config, MalformedJsonIsAClearError) {
  const auto path = write_temp("{\"dataset\": ");
  Config c;
  EXPECT_THROW(c.load_file(path), std::runtime_error);
  EXPECT_THROW(c.load_file("/nonexistent/config.json"), std::runtime_error);
  std::remove(path.c_str());
}

TEST(Config, JsonRoundTrip) {
  Config a;
  a.apply_override("finetune.augment=false");
  a.apply_override("global.tau=0.25");
  const auto path = write_temp(a.to_json().dump());
  Config b;
  b.load_file(path);
  EXPECT_EQ(a.to_text(), b.to_text());
  std::remove(path.c_str());
}

// The dataset constants of SPEC 1.1 live twice, as the network's shape (nn) and as the
// preprocessing target (io), which do not depend on each other: they must agree.
TEST(Config, DatasetConstantsAgreeBetweenNetworkAndPreprocessing) {
  for (const char* d : {"acdc", "prostate", "mmwhs"}) {
    const DatasetGeometry g = dataset_geometry(d);
    const PreprocessParams p = dataset_params(d);
    EXPECT_EQ(g.image_size, p.out_h) << d;
    EXPECT_EQ(g.image_size, p.out_w) << d;
    EXPECT_EQ(g.num_classes, p.num_classes) << d;
    EXPECT_EQ(static_cast<int>(p.class_names.size()), p.num_classes) << d;
  }
}

TEST(Config, ImageSizeOverrideMustBeAMultipleOf32) {
  Config c;
  c.apply_override("image_size=96");
  EXPECT_EQ(pipeline_params(c).out_h, 96);
  c.apply_override("image_size=100");
  EXPECT_THROW(pipeline_params(c), std::invalid_argument);
}

}  // namespace
}  // namespace cs
