// Errors a user meets through the `contraseg` command: a bad config fails at once, before any data
// is read or any folder is created, with a message naming the key, the value and what is allowed;
// a file that cannot be written names its path and the system's reason.
//
// --data points at an empty folder: had a stage got as far as reading data, it would fail with a
// different error (no cases), so the expected config error proves that it came first.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "support/io_test_util.h"

namespace cs {
namespace {

using namespace testing_io;

class ConfigErrors : public ::testing::Test {
 protected:
  void SetUp() override { std::filesystem::create_directories(empty_data()); }
  std::string empty_data() const { return tmp_ / "empty_data"; }
  std::string out() const { return tmp_ / "run"; }

  // `stage ... ARGS` on the empty data folder; checks that it failed without reading data or
  // creating its run folder, and returns what it printed on stderr.
  std::string failure_of(const std::string& stage, const std::string& args) const {
    const RunResult r = run_contraseg(stage + " --data " + empty_data() + " --out " + out() + " " + args);
    EXPECT_NE(r.status, 0) << r.out << r.err;
    EXPECT_FALSE(std::filesystem::exists(out())) << stage << " " << args << " created its run folder";
    EXPECT_FALSE(contains(r.out, "loading") || contains(r.out, "loaded")) << r.out;
    EXPECT_FALSE(contains(r.err, empty_data())) << "data was read first: " << r.err;
    return r.err;
  }

  TempDir tmp_;
};

// The control: with a good config the stage does read the empty folder, and names it.
TEST_F(ConfigErrors, AGoodConfigGetsAsFarAsTheData) {
  const RunResult r = run_contraseg("finetune --data " + empty_data() + " --out " + out());
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(contains(r.err, empty_data() + ": no ACDC patientNNN folders")) << r.err;
}

TEST_F(ConfigErrors, BatchOfZeroFailsBeforeData) {
  for (const char* stage : {"finetune", "pretrain-global --set global.loss=gr", "pretrain-local --init nowhere"}) {
    const std::string key = std::string(stage).rfind("finetune", 0) == 0 ? "finetune.batch"
                            : std::string(stage).rfind("pretrain-global", 0) == 0 ? "global.batch"
                                                                                   : "local.batch";
    const std::string err = failure_of(stage, "--set " + key + "=0");
    EXPECT_TRUE(contains(err, "--set: " + key + " = '0' is out of range; allowed: integer >= ")) << err;
  }
}

TEST_F(ConfigErrors, NegativeLearningRate) {
  const std::string err = failure_of("finetune", "--set lr=-1");
  EXPECT_TRUE(contains(err, "--set: lr = '-1' is out of range; allowed: number in (0, 1]")) << err;
}

TEST_F(ConfigErrors, IterationsBeyondTheIntegerRange) {
  const std::string err = failure_of("finetune", "--set finetune.iterations=999999999999");
  EXPECT_TRUE(contains(err, "--set: finetune.iterations = '999999999999' is beyond the integer range")) << err;
  EXPECT_TRUE(contains(err, "allowed: integer in [1, 100000000]")) << err;
  EXPECT_FALSE(contains(err, "stoi")) << err;
}

TEST_F(ConfigErrors, ConfigThatIsADirectoryOrMissing) {
  std::string err = failure_of("finetune", "--config " + tmp_.path());
  EXPECT_TRUE(contains(err, tmp_.path() + ": is a directory, not a config file")) << err;
  EXPECT_FALSE(contains(err, "basic_filebuf")) << err;
  const std::string missing = tmp_ / "missing.json";
  err = failure_of("pretrain-global", "--config " + missing);
  EXPECT_TRUE(contains(err, missing + ": cannot open config file: No such file or directory")) << err;
}

TEST_F(ConfigErrors, WrongJsonTypeNamesTheKeyAndTheFile) {
  const std::string file = tmp_ / "typed.json";
  write_text(file, R"({"dataset": 3})");
  std::string err = failure_of("finetune", "--config " + file);
  EXPECT_TRUE(contains(err, file + ": dataset = '3' is a JSON number, not a string; allowed: acdc|prostate|mmwhs"))
      << err;
  write_text(file, R"({"finetune": {"batch": "20"}})");
  err = failure_of("finetune", "--config " + file);
  EXPECT_TRUE(contains(err, file + ": finetune.batch = '\"20\"' is a JSON string, not an integer")) << err;
}

TEST_F(ConfigErrors, ValuesThatDoNotWorkTogether) {
  const std::string err = failure_of("pretrain-local --init nowhere", "--set image_size=32 --set local.blocks=1");
  EXPECT_TRUE(contains(err, "--set: local.blocks = '1' gives 2x2 feature maps for 32x32 inputs")) << err;
  EXPECT_TRUE(contains(err, "allowed: local.blocks in [2, 5]")) << err;
}

TEST_F(ConfigErrors, ReproduceChecksItsListsBeforeCreatingItsFolder) {
  const std::string config = tmp_ / "cfg.json";
  write_text(config, R"({"reproduce": {"labeled": "tr1,tr3"}})");
  const std::string err = failure_of("reproduce", "--config " + config);
  EXPECT_TRUE(contains(err, config + ": reproduce.labeled = 'tr1,tr3' has 'tr3', which is not one of the allowed "
                                     "values; allowed: comma-separated list of tr1|tr2|tr8|trall"))
      << err;
}

TEST(ConfigCommand, ShowsTheRangeOfNumericKeysAndRefusesValuesOutsideIt) {
  const RunResult r = run_contraseg("config");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* shown : {"(integer >= 1)", "(number in (0, 1])", "(0 or a multiple of 32 in [32, 1024])",
                            "(integer in [1, 100000000])", "(1|3)", "(integer >= 2)"})
    EXPECT_TRUE(contains(r.out, shown)) << shown << "\n" << r.out;
  const RunResult bad = run_contraseg("config --set local.region=2");
  EXPECT_NE(bad.status, 0);
  EXPECT_TRUE(contains(bad.err, "--set: local.region = '2' is not one of the allowed values; allowed: 1|3")) << bad.err;
}

// Writing where a file cannot be created (a regular file where the folder should be: refused
// even to root) names the path and the system's reason instead of a library's message.
class WriteErrors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir;
    data_ = *tmp_ / "data";
    run_ = *tmp_ / "ft";
    const RunResult s = run_contraseg("synth --out " + data_ + " --patients 8 --threads 2");
    ASSERT_EQ(s.status, 0) << s.out << s.err;
    const std::string config = *tmp_ / "tiny.json";
    write_text(config, R"({"image_size": 32, "target_res": 8.0, "threads": 1,
      "finetune": {"iterations": 2, "batch": 2, "val_every": 1}})");
    const RunResult f = run_contraseg("finetune --config " + config + " --data " + data_ + " --quiet --out " + run_);
    ASSERT_EQ(f.status, 0) << f.out << f.err;
    write_text(*tmp_ / "plain_file", "not a folder");
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }
  // `contraseg predict` of a phantom image into `out`.
  static RunResult predict_into(const std::string& out) {
    const std::string image = data_ + "/patient001/patient001_frame01.nii.gz";
    return run_contraseg("predict --run " + run_ + " --image " + image + " --out " + out);
  }
  static TempDir* tmp_;
  static std::string data_, run_;
};
TempDir* WriteErrors::tmp_ = nullptr;
std::string WriteErrors::data_, WriteErrors::run_;

TEST_F(WriteErrors, PredictIntoAPathUnderAFile) {
  const std::string out = *tmp_ / "plain_file/pred.nii.gz";
  const RunResult r = predict_into(out);
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(contains(r.err, out + ": cannot create: Not a directory")) << r.err;
  EXPECT_FALSE(contains(r.err, "** ERROR")) << "the NIfTI library's own message: " << r.err;
}

TEST_F(WriteErrors, PredictIntoAMissingFolder) {
  const std::string out = *tmp_ / "no/such/folder/pred.nii";
  const RunResult r = predict_into(out);
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(contains(r.err, out + ": cannot create: No such file or directory")) << r.err;
}

TEST_F(WriteErrors, EvaluateIntoAPathUnderAFile) {
  const std::string out = *tmp_ / "plain_file/eval";
  const RunResult r = run_contraseg("evaluate --run " + run_ + " --out " + out);
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(contains(r.err, *tmp_ / "plain_file")) << r.err;
  EXPECT_TRUE(contains(r.err, "Not a directory")) << r.err;
}

}  // namespace
}  // namespace cs
