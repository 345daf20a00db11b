// Checkpoints: safetensors round trip, stage prefix rules, optimiser state, clear errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "nn/adam.h"
#include "nn/checkpoint.h"
#include "nn/safetensors.h"
#include "nn/unet.h"

namespace cs {
namespace {
namespace fs = std::filesystem;

class Checkpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cs_nn_ckpt_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& f) const { return (dir_ / f).string(); }

  static UNetConfig small(int decoder_blocks, int g2) {
    UNetConfig c = UNetConfig::for_dataset("acdc");
    c.image_size = 32;
    c.decoder_blocks = decoder_blocks;
    c.seg_head = decoder_blocks == 5;
    c.g2_block = g2;
    return c;
  }
  static InitOptions seed(uint64_t s) {
    InitOptions o;
    o.seed = s;
    o.bn_running_var = static_cast<float>(s);  // distinguishable buffers
    return o;
  }
  static void expect_equal(const Tensor& a, const Tensor& b, const std::string& what) {
    EXPECT_EQ(a.to_vector(), b.to_vector()) << what;
  }
  static bool equal(const Tensor& a, const Tensor& b) { return a.to_vector() == b.to_vector(); }

  fs::path dir_;
};

TEST_F(Checkpoint, RoundTripWithOptimiserState) {
  UNet a(small(2, 2), Device::CPU, seed(1));
  Adam adam_a(a.params());
  a.params().grad_arena().fill_(0.01f);
  adam_a.step();
  adam_a.step();
  save_checkpoint(path("a.safetensors"), a.params(), &adam_a, {{"stage", "2"}, {"config", "{\"l\": 2}"}});
  EXPECT_FALSE(fs::exists(path("a.safetensors") + ".tmp." + std::to_string(::getpid())));

  UNet b(small(2, 2), Device::CPU, seed(2));
  Adam adam_b(b.params());
  ASSERT_FALSE(equal(a.params().param_arena(), b.params().param_arena()));
  CheckpointLoadOptions opt;
  opt.adam = &adam_b;
  const CheckpointLoadReport rep = load_checkpoint(path("a.safetensors"), b.params(), opt);
  EXPECT_EQ(rep.loaded.size(), 3 * a.params().num_params() + a.params().num_buffers());
  EXPECT_EQ(rep.metadata.at("stage"), "2");
  EXPECT_EQ(rep.metadata.at("config"), "{\"l\": 2}");
  EXPECT_EQ(rep.metadata.at("format"), "contraseg-checkpoint");
  EXPECT_EQ(adam_b.step_count(), 2);
  for (size_t i = 0; i < a.params().num_params(); ++i) {
    const std::string& n = a.params().param_entry(i).name;
    expect_equal(a.params().param_at(i), b.params().param(n), n);
    expect_equal(a.params().adam_m_at(i), b.params().adam_m_at(b.params().param_index(n)), "m " + n);
    expect_equal(a.params().adam_v_at(i), b.params().adam_v_at(b.params().param_index(n)), "v " + n);
  }
  expect_equal(a.params().buffer_arena(), b.params().buffer_arena(), "buffers");
  EXPECT_EQ(read_checkpoint_metadata(path("a.safetensors")).at("adam_step"), "2");
}

TEST_F(Checkpoint, FileIsPlainSafetensors) {
  UNet a(small(0, 0), Device::CPU, seed(1));
  save_checkpoint(path("a.safetensors"), a.params());
  std::ifstream f(path("a.safetensors"), std::ios::binary);
  uint64_t n = 0;
  f.read(reinterpret_cast<char*>(&n), 8);
  ASSERT_EQ(n % 8, 0u);  // data starts 8-byte aligned
  std::string text(n, ' ');
  f.read(text.data(), static_cast<std::streamsize>(n));
  const auto h = nlohmann::json::parse(text);
  // Offsets tile the data part without gaps, every entry F32 with numel * 4 bytes.
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    EXPECT_EQ(it.value()["dtype"], "F32");
    const auto off = it.value()["data_offsets"].get<std::vector<uint64_t>>();
    spans.emplace_back(off[0], off[1]);
    EXPECT_EQ(off[1] - off[0], 4u * shape_numel(it.value()["shape"].get<Shape>())) << it.key();
  }
  std::sort(spans.begin(), spans.end());
  uint64_t at = 0;
  for (auto& s : spans) {
    EXPECT_EQ(s.first, at);
    at = s.second;
  }
  EXPECT_EQ(fs::file_size(path("a.safetensors")), 8 + n + at);
  // The first conv weight's bytes are the model's floats.
  const auto off = h["enc_c1_a.w"]["data_offsets"].get<std::vector<uint64_t>>();
  std::vector<float> v(16 * 9);
  f.seekg(static_cast<std::streamoff>(8 + n + off[0]));
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * 4));
  EXPECT_EQ(v, a.params().param("enc_c1_a.w").to_vector());
}

TEST_F(Checkpoint, StageRulesByPrefix) {
  // Stage 2 (l = 2) saved; stage 3 loads enc_ + decoder blocks 1..2, not the buffers, not g2_.
  UNet s2(small(2, 2), Device::CPU, seed(1));
  save_checkpoint(path("s2.safetensors"), s2.params());
  UNet s3(small(5, 0), Device::CPU, seed(2));
  UNet s3_before(small(5, 0), Device::CPU, seed(2));
  const std::vector<std::string> blocks = decoder_block_prefixes(2);
  EXPECT_EQ(blocks, (std::vector<std::string>{"dec_dc6.", "dec_c5_", "dec_dc5.", "dec_c4_"}));
  CheckpointLoadOptions opt;
  opt.include = {"enc_"};
  opt.include.insert(opt.include.end(), blocks.begin(), blocks.end());
  opt.buffers = false;
  load_checkpoint(path("s2.safetensors"), s3.params(), opt);
  ParamStore& p = s3.params();
  for (size_t i = 0; i < p.num_params(); ++i) {
    const std::string& n = p.param_entry(i).name;
    const bool from_stage2 = n.rfind("enc_", 0) == 0 || n.rfind("dec_dc6.", 0) == 0 || n.rfind("dec_c5_", 0) == 0 ||
                             n.rfind("dec_dc5.", 0) == 0 || n.rfind("dec_c4_", 0) == 0;
    if (from_stage2)
      EXPECT_TRUE(equal(p.param_at(i), s2.params().param(n))) << n;
    else
      EXPECT_TRUE(equal(p.param_at(i), s3_before.params().param(n))) << n << " must keep its own init";
  }
  expect_equal(p.buffer_arena(), s3_before.params().buffer_arena(), "buffers are not copied (SPEC 4.1)");

  // Exclude: everything of the encoder but level 6.
  UNet e(small(0, 0), Device::CPU, seed(3));
  CheckpointLoadOptions ex;
  ex.include = {"enc_"};
  ex.exclude = {"enc_c6_"};
  load_checkpoint(path("s2.safetensors"), e.params(), ex);
  EXPECT_TRUE(equal(e.params().param("enc_c5_b.w"), s2.params().param("enc_c5_b.w")));
  EXPECT_FALSE(equal(e.params().param("enc_c6_a.w"), s2.params().param("enc_c6_a.w")));
  EXPECT_TRUE(equal(e.params().buffer("enc_c1_a.bn.var"), s2.params().buffer("enc_c1_a.bn.var")));
}

template <class E>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

TEST_F(Checkpoint, ClearErrors) {
  UNet a(small(2, 2), Device::CPU, seed(1));
  const std::string good = path("good.safetensors");
  save_checkpoint(good, a.params());
  UNet b(small(2, 2), Device::CPU, seed(2));
  const std::vector<float> before = b.params().param_arena().to_vector();
  using RE = std::runtime_error;

  // Missing file.
  EXPECT_NE(error_of<RE>([&] { load_checkpoint(path("nope.safetensors"), b.params()); }).find("nope.safetensors"),
            std::string::npos);
  // Truncated: cut in the middle of the data, then in the header.
  const auto size = fs::file_size(good);
  fs::copy_file(good, path("cut.safetensors"));
  fs::resize_file(path("cut.safetensors"), size - 100);
  EXPECT_NE(error_of<RE>([&] { load_checkpoint(path("cut.safetensors"), b.params()); }).find("truncated"),
            std::string::npos);
  fs::resize_file(path("cut.safetensors"), 40);
  EXPECT_NE(error_of<RE>([&] { load_checkpoint(path("cut.safetensors"), b.params()); }).find("truncated"),
            std::string::npos);
  fs::resize_file(path("cut.safetensors"), 5);
  EXPECT_NE(error_of<RE>([&] { load_checkpoint(path("cut.safetensors"), b.params()); }).find("truncated"),
            std::string::npos);
  // Bad JSON header.
  fs::copy_file(good, path("json.safetensors"));
  {
    std::fstream f(path("json.safetensors"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8);
    f.write("{{{{", 4);
  }
  EXPECT_NE(error_of<RE>([&] { load_checkpoint(path("json.safetensors"), b.params()); }).find("bad JSON header"),
            std::string::npos);
  // Shape mismatch: g2 on block 3 (64 channels) in the file, on block 2 (128) in the model.
  UNet c(small(3, 3), Device::CPU, seed(2));
  save_checkpoint(path("l3.safetensors"), c.params());
  CheckpointLoadOptions g2only;
  g2only.include = {"g2_c1_b."};
  const std::string shape_err = error_of<RE>([&] { load_checkpoint(path("l3.safetensors"), b.params(), g2only); });
  EXPECT_NE(shape_err.find("g2_c1_b.w"), std::string::npos) << shape_err;
  EXPECT_NE(shape_err.find("[64, 1, 1, 64]"), std::string::npos) << shape_err;
  EXPECT_NE(shape_err.find("[128, 1, 1, 128]"), std::string::npos) << shape_err;
  // A prefix matching nothing.
  CheckpointLoadOptions typo;
  typo.include = {"enc_", "dex_"};
  EXPECT_NE(error_of<RE>([&] { load_checkpoint(good, b.params(), typo); }).find("'dex_'"), std::string::npos);
  // A selected tensor the model does not have (stage-2 file into an encoder-only model).
  UNet enc_only(small(0, 0), Device::CPU, seed(2));
  EXPECT_NE(error_of<RE>([&] { load_checkpoint(good, enc_only.params()); }).find("does not exist in the model"),
            std::string::npos);
  // A tensor the model needs but the file lacks.
  UNet bigger(small(3, 0), Device::CPU, seed(2));
  CheckpointLoadOptions dec;
  dec.include = {"dec_"};
  EXPECT_NE(error_of<RE>([&] { load_checkpoint(good, bigger.params(), dec); }).find("missing from the file"),
            std::string::npos);
  // Optimiser state requested from a file saved without it.
  Adam adam(b.params());
  CheckpointLoadOptions resume;
  resume.adam = &adam;
  EXPECT_NE(error_of<RE>([&] { load_checkpoint(good, b.params(), resume); }).find("adam"), std::string::npos);
  // None of the failed loads touched the model.
  EXPECT_EQ(b.params().param_arena().to_vector(), before);
}

TEST_F(Checkpoint, SaveIsAtomicAndOverwrites) {
  UNet a(small(0, 0), Device::CPU, seed(1));
  UNet b(small(0, 0), Device::CPU, seed(2));
  const std::string p = path("x.safetensors");
  save_checkpoint(p, a.params());
  save_checkpoint(p, b.params());
  UNet c(small(0, 0), Device::CPU, seed(3));
  load_checkpoint(p, c.params());
  EXPECT_TRUE(equal(c.params().param_arena(), b.params().param_arena()));
  size_t files = 0;
  for (auto it = fs::directory_iterator(dir_); it != fs::directory_iterator(); ++it) ++files;
  EXPECT_EQ(files, 1u);  // no temporary left behind
  EXPECT_THROW(save_checkpoint(path("no/such/dir/x.safetensors"), a.params()), std::runtime_error);
}

}  // namespace
}  // namespace cs
