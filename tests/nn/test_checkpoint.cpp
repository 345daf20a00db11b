// Checkpoints: safetensors round trip, stage prefix rules, optimiser state, clear errors,
// damage detection (checksum, header bounds), keeping the last two and choosing a good one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
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
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << "temporary file left: " << e.path();

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
  expect_equal(p.buffer_arena(), s3_before.params().buffer_arena(), "buffers are not copied (docs/method.md §4.1)");

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

// ---- damage detection: checksum and header bounds ----------------------------------------

using RE = std::runtime_error;
const std::string kTorchFixture = std::string(CONTRASEG_SOURCE_DIR) + "/tests/fixtures/unet/unet_v2.safetensors";

std::string file_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void overwrite(const std::string& p, uint64_t at, const std::string& bytes) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good()) << p;
}

void flip_bit(const std::string& p, uint64_t at, int bit) {
  std::string b = file_bytes(p);
  ASSERT_LT(at, b.size());
  overwrite(p, at, std::string(1, static_cast<char>(b[at] ^ (1 << bit))));
}

uint64_t header_length(const std::string& p) {
  const std::string b = file_bytes(p);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(b.at(i))) << (8 * i);
  return n;
}

// A hand-made safetensors file: length field (the header's own length unless given), header, data.
void write_raw(const std::string& p, const std::string& header, size_t data_bytes, int64_t length = -1) {
  const uint64_t n = length < 0 ? header.size() : static_cast<uint64_t>(length);
  std::string b(8, '\0');
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(n >> (8 * i));
  b += header + std::string(data_bytes, '\x01');
  std::ofstream(p, std::ios::binary) << b;
}

// A store small enough to load thousands of times: one side x side weight, one buffer.
void make_tiny(ParamStore& s, float value, int64_t side = 8) {
  s.declare_param("w", {side, side}, ParamKind::DenseWeight);
  s.declare_buffer("bn.mean", {side}, ParamKind::BNMean);
  s.allocate();
  s.param_arena().fill_(value);
  s.buffer_arena().fill_(-value);
}

float tiny_value(const std::string& p, int64_t side = 8) {
  ParamStore s;
  make_tiny(s, 0.0f, side);
  load_checkpoint(p, s);
  return s.param("w").to_vector().at(0);
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string b(n, '\0');
  for (auto& c : b) c = static_cast<char>(rng());
  return b;
}

TEST_F(Checkpoint, SameSizeCorruptionIsDetected) {
  UNet a(small(0, 0), Device::CPU, seed(1));
  Adam adam_a(a.params());
  const std::string p = path("latest.safetensors");
  save_checkpoint(p, a.params(), &adam_a, {{"step", "9"}});
  const auto size = fs::file_size(p);
  ASSERT_GT(size / 2, 8 + header_length(p));  // the middle lies in the weights
  overwrite(p, size / 2, random_bytes(4096, 7));
  ASSERT_EQ(fs::file_size(p), size);

  UNet b(small(0, 0), Device::CPU, seed(2));
  Adam adam_b(b.params());
  const std::vector<float> before = b.params().param_arena().to_vector();
  CheckpointLoadOptions resume;
  resume.adam = &adam_b;
  const std::string err = error_of<RE>([&] { load_checkpoint(p, b.params(), resume); });
  EXPECT_NE(err.find("checksum mismatch (damaged file)"), std::string::npos) << err;
  EXPECT_NE(err.find(p), std::string::npos) << err;
  EXPECT_EQ(b.params().param_arena().to_vector(), before);
  EXPECT_EQ(adam_b.step_count(), 0);
  EXPECT_NE(error_of<RE>([&] { verify_checkpoint(p); }).find("checksum mismatch (damaged file)"), std::string::npos);
}

TEST_F(Checkpoint, SingleBitFlipsAreDetected) {
  ParamStore a;
  make_tiny(a, 0.5f);
  const std::string good = path("good.safetensors"), p = path("flip.safetensors");
  save_checkpoint(good, a, nullptr, {{"step", "9"}});
  ASSERT_EQ(tiny_value(good), 0.5f);
  const std::string bytes = file_bytes(good);
  const uint64_t data_start = 8 + header_length(good);

  auto load_error = [&] { return error_of<RE>([&] { tiny_value(p); }); };
  // One bit of the weights, of a metadata value ("9" -> "8"), of a tensor name ("bn.mean" -> "bn.lean").
  for (const uint64_t at : {data_start + 5, static_cast<uint64_t>(bytes.find("\"step\":\"9\"") + 8),
                            static_cast<uint64_t>(bytes.find("bn.mean") + 3)}) {
    fs::copy_file(good, p, fs::copy_options::overwrite_existing);
    flip_bit(p, at, 0);
    const std::string err = load_error();
    EXPECT_NE(err.find("checksum mismatch (damaged file)"), std::string::npos) << "byte " << at << ": " << err;
    EXPECT_NE(err.find(p), std::string::npos) << err;
  }
  // Every single-bit flip anywhere in the file is an error naming it (some fail before the checksum).
  int undetected = 0;
  for (uint64_t at = 0; at < bytes.size(); ++at)
    for (int bit = 0; bit < 8; ++bit) {
      std::string b = bytes;
      b[at] = static_cast<char>(b[at] ^ (1 << bit));
      std::ofstream(p, std::ios::binary | std::ios::trunc) << b;
      const std::string err = load_error();
      if (err == "(no error)" || err.find(p) == std::string::npos) {
        ++undetected;
        ADD_FAILURE() << "flip of bit " << bit << " at byte " << at << ": " << err;
      }
    }
  EXPECT_EQ(undetected, 0);
}

TEST_F(Checkpoint, EveryTruncationIsDetected) {
  ParamStore a;
  make_tiny(a, 0.5f);
  const std::string good = path("good.safetensors"), p = path("cut.safetensors");
  save_checkpoint(good, a);
  const auto size = fs::file_size(good);
  for (uintmax_t len = 0; len < size; ++len) {
    fs::copy_file(good, p, fs::copy_options::overwrite_existing);
    fs::resize_file(p, len);
    const std::string err = error_of<RE>([&] { tiny_value(p); });
    EXPECT_NE(err.find("truncated"), std::string::npos) << len << " bytes: " << err;
    EXPECT_NE(err.find(p), std::string::npos) << err;
  }
  // Appended bytes change the data part: a mismatch too.
  fs::copy_file(good, p, fs::copy_options::overwrite_existing);
  std::ofstream(p, std::ios::binary | std::ios::app) << "x";
  EXPECT_NE(error_of<RE>([&] { tiny_value(p); }).find("checksum mismatch"), std::string::npos);
}

TEST_F(Checkpoint, AbsurdHeaderLengths) {
  const std::string p = path("len.safetensors");
  auto err = [&] { return error_of<RE>([&] { SafeTensorsReader r(p); }); };
  write_raw(p, "{}", 0, int64_t{1} << 62);  // huge
  EXPECT_NE(err().find("truncated: header length 4611686018427387904"), std::string::npos) << err();
  write_raw(p, "{}", 0, 3);  // one more than what follows
  EXPECT_NE(err().find("truncated: header length 3"), std::string::npos) << err();
  for (int64_t tiny : {0, 1}) {
    write_raw(p, "{}", 0, tiny);
    EXPECT_NE(err().find("too small"), std::string::npos) << err();
    EXPECT_NE(err().find(p), std::string::npos) << err();
  }
  // Longer than the limit but within the file: a sparse file, so that nothing big is written.
  write_raw(p, "", 0, static_cast<int64_t>(kMaxHeaderBytes) + 1);
  fs::resize_file(p, kMaxHeaderBytes + 16);
  EXPECT_NE(err().find("exceeds the limit of 100000000 bytes"), std::string::npos) << err();
  write_raw(p, "{} ", 0);
  EXPECT_NO_THROW(SafeTensorsReader r(p));
}

TEST_F(Checkpoint, BadEntriesAreClearErrorsNamingFileAndTensor) {
  struct Case {
    std::string header;
    std::string expected;
  };
  const std::string f32 = R"("dtype":"F32",)";
  const std::vector<Case> cases = {
      {R"({"t":{)" + f32 + R"("shape":[4],"data_offsets":[0,400]}})", "ends at byte 400 of the data, which has 16"},
      {R"({"a":{)" + f32 + R"("shape":[2],"data_offsets":[0,8]},)" + R"("t":{)" + f32 +
           R"("shape":[2],"data_offsets":[4,12]}})",
       "overlap those of tensor 'a'"},
      {R"({"t":{)" + f32 + R"("shape":[3],"data_offsets":[0,8]}})",
       "hold 8 bytes, but dtype F32 and shape [3] need 12"},
      {R"({"t":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}})", "unknown dtype 'F31'"},
      {R"({"t":{"dtype":7,"shape":[2],"data_offsets":[0,8]}})", "dtype is not a string"},
      {R"({"t":{)" + f32 + R"("shape":[-2],"data_offsets":[0,8]}})", "not a non-negative integer"},
      {R"({"t":{)" + f32 + R"("shape":[1.5],"data_offsets":[0,4]}})", "not a non-negative integer"},
      {R"({"t":{)" + f32 + R"("shape":2,"data_offsets":[0,8]}})", "shape is not an array"},
      {R"({"t":{)" + f32 + R"("shape":[4294967296,4294967296],"data_offsets":[0,16]}})", "element count overflows"},
      {R"({"t":{)" + f32 + R"("shape":[18446744073709551615],"data_offsets":[0,16]}})", "element count overflows"},
      {R"({"t":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,16]}})", "byte count overflows"},
      {R"({"t":{)" + f32 + R"("shape":[2],"data_offsets":[-8,0]}})", "must be 2 non-negative integers"},
      {R"({"t":{)" + f32 + R"("shape":[2],"data_offsets":[0,8,16]}})", "must be 2 non-negative integers"},
      {R"({"t":{)" + f32 + R"("shape":[0],"data_offsets":[8,0]}})", "end before begin"},
      {R"({"t":{)" + f32 + R"("shape":[2]}})", "no 'data_offsets'"},
      {R"({"t":5})", "not an object"},
  };
  const std::string p = path("bad.safetensors");
  for (const auto& c : cases) {
    write_raw(p, c.header, 16);
    const std::string err = error_of<RE>([&] { SafeTensorsReader r(p); });
    EXPECT_NE(err.find(c.expected), std::string::npos) << c.header << "\n  " << err;
    EXPECT_NE(err.find(p), std::string::npos) << err;
    EXPECT_NE(err.find("tensor 't'"), std::string::npos) << err;
  }
  for (const auto& [header, expected] : std::vector<std::pair<std::string, std::string>>{
           {R"({"__metadata__":{"k":1}})", "__metadata__ value of 'k' is not a string"},
           {R"({"__metadata__":[]})", "__metadata__ is not an object"},
           {std::string("{}\0 ", 4), "NUL byte"},
           {"[1,2]", "not an object"},
           {"{\"t\":", "bad JSON header"}}) {
    write_raw(p, header, 0);
    const std::string err = error_of<RE>([&] { SafeTensorsReader r(p); });
    EXPECT_NE(err.find(expected), std::string::npos) << header << "\n  " << err;
    EXPECT_NE(err.find(p), std::string::npos) << err;
  }
  // Nesting a million deep where a number belongs: an error, not a stack overflow.
  const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  for (const auto& [header, expected] : std::vector<std::pair<std::string, std::string>>{
           {R"({"t":{)" + f32 + R"("shape":[)" + deep + R"(],"data_offsets":[0,0]}})", "shape entry (array)"},
           {R"({"t":{)" + f32 + R"("shape":[0],"data_offsets":)" + deep + "}}", "data_offsets must be 2"},
           {R"({"__metadata__":{"t":)" + deep + "}}", "value of 't' is not a string"}}) {
    write_raw(p, header, 0);
    const std::string err = error_of<RE>([&] { SafeTensorsReader r(p); });
    EXPECT_NE(err.find(expected), std::string::npos) << err.substr(0, 300);
  }
  // The same layout, well formed, reads: the cases above fail for the reason they name.
  write_raw(p,
            R"({"a":{)" + f32 + R"("shape":[2],"data_offsets":[0,8]},"t":{)" + f32 +
                R"("shape":[2],"data_offsets":[8,16]},"e":{)" + f32 +
                R"("shape":[0,9223372036854775807],"data_offsets":[4,4]}})",
            16);
  const SafeTensorsReader r(p);
  EXPECT_EQ(r.read_floats("t").size(), 2u);
  EXPECT_TRUE(r.read_floats("e").empty());
  EXPECT_FALSE(r.verified());
}

TEST_F(Checkpoint, ChecksumRulesByFormatAndVersion) {
  // The PyTorch-made fixture has no checksum and reads as before.
  const SafeTensorsReader torch(kTorchFixture);
  EXPECT_FALSE(torch.verified());
  ASSERT_FALSE(torch.names().empty());
  const auto& first = torch.info(torch.names().front());
  EXPECT_EQ(torch.read_doubles(torch.names().front()).size(), static_cast<size_t>(shape_numel(first.shape)));
  // A contraseg checkpoint verifies; its checksum is in the metadata.
  ParamStore a;
  make_tiny(a, 0.5f);
  save_checkpoint(path("v2.safetensors"), a);
  const SafeTensorsReader ours(path("v2.safetensors"));
  EXPECT_TRUE(ours.verified());
  EXPECT_EQ(ours.metadata().at("version"), "2");
  EXPECT_EQ(ours.metadata().at("crc32").size(), 8u);
  EXPECT_NO_THROW(verify_checkpoint(path("v2.safetensors")));
  // Version 1 (never checksummed) and a version-2 file that lost its checksum are refused.
  const std::string tensor = R"("w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  const std::string ours_meta = R"("__metadata__":{"format":"contraseg-checkpoint",)";
  write_raw(path("v1.safetensors"), "{" + tensor + "," + ours_meta + R"("version":"1"}})", 4);
  std::string err = error_of<RE>([&] { SafeTensorsReader r(path("v1.safetensors")); });
  EXPECT_NE(err.find("version 1 carries no checksum"), std::string::npos) << err;
  EXPECT_NE(err.find(path("v1.safetensors")), std::string::npos) << err;
  write_raw(path("nocrc.safetensors"), "{" + tensor + "," + ours_meta + R"("version":"2"}})", 4);
  err = error_of<RE>([&] { SafeTensorsReader r(path("nocrc.safetensors")); });
  EXPECT_NE(err.find("without its checksum"), std::string::npos) << err;
  // A checksummed file of a newer version: readable as safetensors, refused as a checkpoint.
  SafeTensorsWriter w;
  const std::vector<float> one(64, 1.0f), side(8, 1.0f);
  w.add("w", {8, 8}, one.data());
  w.add("bn.mean", {8}, side.data());
  w.set_metadata("format", "contraseg-checkpoint");
  w.set_metadata("version", "3");
  w.write(path("v3.safetensors"));
  EXPECT_TRUE(SafeTensorsReader(path("v3.safetensors")).verified());
  err = error_of<RE>([&] { tiny_value(path("v3.safetensors")); });
  EXPECT_NE(err.find("format version '3'"), std::string::npos) << err;
  err = error_of<RE>([&] { verify_checkpoint(kTorchFixture); });
  EXPECT_NE(err.find("not a contraseg checkpoint"), std::string::npos) << err;
  EXPECT_THROW(w.set_metadata("crc32", "00000000"), std::invalid_argument);
}

// ---- keeping the last two, choosing a good one -------------------------------------------

TEST_F(Checkpoint, RotationKeepsExactlyTheLastTwo) {
  const std::string latest = path("latest.safetensors"), previous = path("previous.safetensors");
  auto count_files = [&] { return std::distance(fs::directory_iterator(dir_), fs::directory_iterator()); };
  for (float v : {1.0f, 2.0f, 3.0f}) {
    ParamStore s;
    make_tiny(s, v);
    save_checkpoint_rotating(latest, previous, s, nullptr, {{"step", std::to_string(static_cast<int>(v))}});
    EXPECT_EQ(tiny_value(latest), v);
    if (v > 1.0f) {
      EXPECT_EQ(tiny_value(previous), v - 1.0f);
    }
    EXPECT_EQ(count_files(), v > 1.0f ? 2 : 1);
  }
  // A damaged latest is not kept: the good previous one stays.
  flip_bit(latest, fs::file_size(latest) - 1, 3);
  ParamStore s;
  make_tiny(s, 4.0f);
  save_checkpoint_rotating(latest, previous, s);
  EXPECT_EQ(tiny_value(latest), 4.0f);
  EXPECT_EQ(tiny_value(previous), 2.0f);
  EXPECT_EQ(count_files(), 2);
}

TEST_F(Checkpoint, ChooserFallsBackToPreviousWithReasons) {
  const int64_t side = 64;  // 16 KB of weights: room for a 4 KB overwrite in the middle
  const std::string latest = path("latest.safetensors"), previous = path("previous.safetensors");
  for (float v : {1.0f, 2.0f}) {
    ParamStore s;
    make_tiny(s, v, side);
    save_checkpoint_rotating(latest, previous, s);
  }
  CheckpointChoice c = choose_checkpoint({latest, previous});
  EXPECT_EQ(c.path, latest);
  EXPECT_TRUE(c.rejected.empty());

  overwrite(latest, fs::file_size(latest) / 2, random_bytes(4096, 11));
  c = choose_checkpoint({latest, previous});
  EXPECT_EQ(c.path, previous);
  ASSERT_EQ(c.rejected.size(), 1u);
  EXPECT_EQ(c.rejected[0].path, latest);
  EXPECT_NE(c.rejected[0].reason.find("checksum mismatch (damaged file)"), std::string::npos) << c.rejected[0].reason;
  EXPECT_NE(c.rejected[0].reason.find(latest), std::string::npos) << c.rejected[0].reason;
  EXPECT_EQ(tiny_value(c.path, side), 1.0f);

  fs::resize_file(previous, fs::file_size(previous) - 4);
  const std::string both = error_of<RE>([&] { choose_checkpoint({latest, previous}); });
  EXPECT_NE(both.find(latest + "': checksum mismatch (damaged file)"), std::string::npos) << both;
  EXPECT_NE(both.find(previous + "': truncated"), std::string::npos) << both;

  // Nothing there: nothing to resume from, not an error.
  fs::remove(latest);
  fs::remove(previous);
  c = choose_checkpoint({latest, previous});
  EXPECT_TRUE(c.path.empty());
  ASSERT_EQ(c.rejected.size(), 2u);
  EXPECT_NE(c.rejected[1].reason.find("does not exist"), std::string::npos);
  // A crash between the rename and the write leaves only the previous one.
  ParamStore s;
  make_tiny(s, 5.0f, side);
  save_checkpoint(previous, s);
  c = choose_checkpoint({latest, previous});
  EXPECT_EQ(c.path, previous);
  ASSERT_EQ(c.rejected.size(), 1u);
  EXPECT_NE(c.rejected[0].reason.find(latest + "' does not exist"), std::string::npos) << c.rejected[0].reason;
}

}  // namespace
}  // namespace cs
