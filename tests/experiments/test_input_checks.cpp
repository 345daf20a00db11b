// What a user gets wrong in the data, the split or the config is refused before any work: the
// stage exits non-zero with a message naming the case, file, list or key and the fix, and its run
// folder is never created. Each case here used to train (or evaluate) and exit 0.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "experiments/config.h"
#include "experiments/pipeline/run_folder.h"
#include "io/formats/nifti.h"
#include "support/io_test_util.h"
#include "support/tiny_split.h"

namespace cs {
namespace {

using namespace testing_io;

// A tiny phantom dataset (8 patients, the split below) and a config that trains in seconds,
// synthesised once; each test works on its own copy when it changes the data.
class InputChecks : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    base_ = new TempDir();
    const RunResult r = run_contraseg("synth --out " + clean_data() + " --patients 8 --seed 5");
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    write_split(clean_data(), split());
    write_text(config(), R"({"dataset": "acdc", "image_size": 32, "target_res": 8.0, "threads": 1,
      "global": {"iterations": 2, "volumes": 2}, "local": {"iterations": 2, "batch": 2},
      "finetune": {"iterations": 2, "batch": 2, "val_every": 2, "augment": false}})");
  }
  static void TearDownTestSuite() { delete base_; }

  static std::string clean_data() { return *base_ / "data"; }
  static std::string config() { return *base_ / "tiny.json"; }
  static nlohmann::json split() {
    return cs::testing_io::tiny_split();
  }
  static void write_split(const std::string& data, const nlohmann::json& s) {
    write_text(data + "/splits.json", s.dump(2));
  }

  // A copy of the clean dataset this test may change.
  std::string data_copy() {
    const std::string d = tmp_ / "data";
    std::filesystem::copy(clean_data(), d, std::filesystem::copy_options::recursive);
    return d;
  }
  // A copy of the clean dataset whose split is split() changed by `change`.
  std::string data_with_split(const std::function<void(nlohmann::json&)>& change) {
    const std::string data = data_copy();
    nlohmann::json s = split();
    change(s);
    write_split(data, s);
    return data;
  }
  std::string out() const { return tmp_ / "run"; }

  // `COMMAND ARGS` on `data` into out(): it must fail without creating out(); returns stderr.
  std::string refused(const std::string& command, const std::string& data, const std::string& args = "",
                      const std::string& config_file = config()) {
    const RunResult r =
        run_contraseg(command + " --config " + config_file + " --data " + data + " --out " + out() + " " + args);
    EXPECT_NE(r.status, 0) << r.out << r.err;
    EXPECT_FALSE(std::filesystem::exists(out())) << command << " " << args << " created its run folder";
    return r.err;
  }
  // refused() on the clean data, with a message that has each of `says` and none of `not_says`.
  void expect_refused_saying(const std::string& command, const std::string& args, const std::vector<std::string>& says,
                             const std::vector<std::string>& not_says = {}) {
    const std::string err = refused(command, clean_data(), args);
    for (const std::string& part : says) EXPECT_TRUE(contains(err, part)) << err;
    for (const std::string& part : not_says) EXPECT_FALSE(contains(err, part)) << err;
  }

  static TempDir* base_;
  TempDir tmp_;
};
TempDir* InputChecks::base_ = nullptr;

// Sets one voxel of a label file to `value`.
void set_label_voxel(const std::string& path, float value) {
  Volume v = read_nifti(path);
  v.at(v.nx / 2, v.ny / 2, v.nz / 2) = value;
  write_nifti_label(path, v);
}

// Item 1: a label value outside the classes used to be one-hot encoded out of bounds.
TEST_F(InputChecks, OutOfRangeLabelIsRefusedNamingTheCaseAndFile) {
  for (float value : {7.f, 255.f}) {
    const std::string data = data_copy();
    const std::string label = data + "/patient001/patient001_frame01_gt.nii.gz";
    set_label_voxel(label, value);
    for (const char* augment : {"false", "true"}) {
      const std::string err = refused("finetune", data, std::string("--set finetune.augment=") + augment);
      EXPECT_TRUE(contains(err, "case 001 (" + label + "): label value " + std::to_string(static_cast<int>(value))))
          << err;
      EXPECT_TRUE(contains(err, "num_classes = 4")) << err;
    }
    std::filesystem::remove_all(data);
  }
}

// The test cases are read only by the evaluation after training: they are checked first too.
TEST_F(InputChecks, ABadTestLabelIsFoundBeforeTraining) {
  const std::string data = data_copy();
  const std::string label = data + "/patient008/patient008_frame01_gt.nii.gz";
  set_label_voxel(label, 9);
  const std::string err = refused("finetune", data);
  EXPECT_TRUE(contains(err, "case 008 (" + label + "): label value 9")) << err;
}

// Item 4: what a split says is checked.
TEST_F(InputChecks, ATestCaseInATrainingListIsRefusedInPaperMode) {
  const std::string data = data_with_split([](nlohmann::json& s) { s["labeled"]["tr1"]["c1"]["train"] = {"007"}; });
  const std::string err = refused("finetune", data);
  EXPECT_TRUE(contains(err, data + "/splits.json: test case 007 is also in labeled.tr1.c1.train")) << err;
  // The pre-training stages read the same file and refuse it as well.
  EXPECT_TRUE(contains(refused("pretrain-global", data), "test case 007 is also in labeled.tr1.c1.train"));
}

TEST_F(InputChecks, ACaseTwiceInAListIsRefused) {
  const std::string data = data_with_split([](nlohmann::json& s) {
    s["pretrain"]["train"] = {"001", "002", "002", "003"};
  });
  const std::string err = refused("pretrain-global", data);
  EXPECT_TRUE(contains(err, "pretrain.train lists case 002 twice")) << err;
}

TEST_F(InputChecks, AnEmptyValidationListIsRefused) {
  const std::string data =
      data_with_split([](nlohmann::json& s) { s["labeled"]["tr1"]["c1"]["val"] = nlohmann::json::array(); });
  const std::string err = refused("finetune", data);
  EXPECT_TRUE(contains(err, "the validation list of labelled set tr1 c1 is empty")) << err;
}

TEST_F(InputChecks, TrainingCasesInTheirOwnValidationListAreRefused) {
  const std::string data = data_with_split([](nlohmann::json& s) {
    s["labeled"]["tr1"]["c1"]["val"] = {"001", "005"};
  });
  const std::string err = refused("finetune", data);
  EXPECT_TRUE(contains(err, "001 is in both the training and the validation list of labeled.tr1.c1")) << err;
}

TEST_F(InputChecks, ACaseTheFolderLacksIsNamedWithItsList) {
  const std::string data = data_with_split([](nlohmann::json& s) {
    s["labeled"]["tr1"]["c1"]["val"] = {"005", "099"};
  });
  const std::string err = refused("finetune", data);
  EXPECT_TRUE(contains(err, "the validation list of labelled set tr1 c1 names case 099, not in " + data)) << err;
}

TEST_F(InputChecks, ReproduceRefusesALabelledSetTheSplitLacks) {
  expect_refused_saying("reproduce", "--set reproduce.labeled=tr1,tr2 --set reproduce.combs=c1",
                        {"reproduce.labeled: the split " + clean_data() + "/splits.json has no labelled set tr2",
                         "leave tr2 out of reproduce.labeled"});
}

// More fine-tuning runs at once than hardware threads would only take turns on the cores.
TEST_F(InputChecks, ReproduceWorkersAreCappedAtTheHardwareThreads) {
  const RunResult r = run_contraseg("reproduce --config " + config() + " --data " + clean_data() + " --out " + out() +
                                    " --set reproduce.workers=1024 --set reproduce.labeled=tr1 --set reproduce.combs=c1");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  EXPECT_TRUE(contains(r.err, fmt::format("warning: reproduce.workers = 1024 is more than the {} hardware threads of "
                                          "this machine; training {} runs at a time",
                                          cores, cores)))
      << r.err;
}

// Item 7: cross-key sense against the data, and in the user's words.
TEST_F(InputChecks, MoreVolumesPerBatchThanThePoolHasIsRefused) {
  expect_refused_saying("pretrain-global", "--set global.volumes=6",
                        {"global.volumes = 6: a batch draws 6 distinct volumes, but the pre-training pool",
                         "has 4; set global.volumes=4 or fewer"},
                        {"sample_partitioned"});
}

TEST_F(InputChecks, MorePartitionsThanSlicesIsRefused) {
  expect_refused_saying("pretrain-global", "--set global.partitions=64", {"global.partitions = 64: case 00"},
                        {"partition_range"});
}

TEST_F(InputChecks, ABatchBeyondMemoryIsRefusedWithAnEstimate) {
  expect_refused_saying("finetune", "--set finetune.batch=100000000",
                        {"finetune.batch: a step of 100000000 images of 32x32 needs at least",
                         "of memory; lower finetune.batch (at most about"},
                        {"bad_alloc"});
}

TEST_F(InputChecks, ATemperatureThatRoundsToZeroIsAConfigError) {
  expect_refused_saying("pretrain-global", "--set global.tau=1e-40",
                        {"--set: global.tau = '1e-40' is out of range; allowed: number in [1e-06, 100]"});
}

TEST_F(InputChecks, ConfigFileMistakes) {
  // A section given a value.
  write_text(tmp_ / "scalar.json", R"({"global": 5})");
  std::string err = refused("pretrain-global", clean_data(), "", tmp_ / "scalar.json");
  EXPECT_TRUE(contains(err, "global is a section of keys (global.loss, global.iterations, global.tau, ...)")) << err;
  EXPECT_FALSE(contains(err, "unknown config key")) << err;
  // A key given twice in one object.
  write_text(tmp_ / "twice.json", R"({"finetune": {"batch": 2, "batch": 4}})");
  err = refused("finetune", clean_data(), "", tmp_ / "twice.json");
  EXPECT_TRUE(contains(err, "key \"batch\" is given twice in one object")) << err;
  // A huge value is not echoed whole.
  const std::string huge(1 << 20, 'x');
  write_text(tmp_ / "huge.json", R"({"dataset": ")" + huge + R"("})");
  err = refused("finetune", clean_data(), "", tmp_ / "huge.json");
  EXPECT_TRUE(contains(err, "... (1048576 characters)")) << err.substr(0, 300);
  EXPECT_LT(err.size(), 2000u);
}

// Item 6: a good run after a refused start finds no debris, and a failure after the start is in
// the folder's log.
TEST_F(InputChecks, AFixedInputStartsCleanly) {
  const std::string data = data_copy();
  const std::string label = data + "/patient001/patient001_frame01_gt.nii.gz";
  const std::string good = read_text(label);
  set_label_voxel(label, 7);
  refused("finetune", data);
  write_text(label, good);
  const RunResult r = run_contraseg("finetune --config " + config() + " --data " + data + " --out " + out());
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(std::filesystem::exists(out() + "/eval/summary.json"));
}

TEST(RunFolderErrors, AFailureAfterTheStartIsInTheLog) {
  TempDir tmp;
  const std::string dir = tmp / "run";
  RunFolder run(dir, resolve_settings(Config()), Stage::Finetune, "contraseg finetune", Existing::Refuse);
  EXPECT_FALSE(std::filesystem::exists(dir)) << "nothing is created before start()";
  run.start();
  EXPECT_THROW(run.logging_errors([] { throw std::runtime_error("the disk is full"); }), std::runtime_error);
  EXPECT_TRUE(contains(read_text(dir + "/log.txt"), "error: the disk is full"));
}

}  // namespace
}  // namespace cs
