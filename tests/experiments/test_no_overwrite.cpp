// No silent wrong answer: commands that write refuse to replace what they did not make (predict's
// input or an existing output, a folder synth did not write, the documentation's pictures) unless
// told to, say which volume of a 4D image they segment, and use only the weights of the run folder
// they are given.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "io/formats/nifti.h"
#include "support/io_test_util.h"

namespace cs {
namespace {

namespace fs = std::filesystem;
using namespace testing_io;

// A file's size, modification time and bytes: equal before and after means untouched.
std::string stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "(none)";
  const auto b = read_bytes(path);
  return fmt::format("size {} mtime {}.{:09} hash {:x}", st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                     std::hash<std::string>{}(std::string(b.begin(), b.end())));
}

// stamp() of every file under `dir`, by path relative to it.
std::map<std::string, std::string> stamps_of(const std::string& dir) {
  std::map<std::string, std::string> m;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) m[fs::relative(e.path(), dir).string()] = stamp(e.path().string());
  return m;
}

// Entries beside `dir` whose name starts with its own (leftovers such as DIR.partial-PID).
std::vector<std::string> siblings_of(const std::string& dir) {
  std::vector<std::string> out;
  const std::string name = fs::path(dir).filename().string();
  for (const auto& e : fs::directory_iterator(fs::path(dir).parent_path())) {
    const std::string n = e.path().filename().string();
    if (n != name && n.rfind(name, 0) == 0) out.push_back(n);
  }
  return out;
}

class WorkingDirectory {
 public:
  explicit WorkingDirectory(const std::string& dir) : previous_(fs::current_path()) { fs::current_path(dir); }
  ~WorkingDirectory() { fs::current_path(previous_); }

 private:
  fs::path previous_;
};

// A tiny phantom dataset and the runs made on it, each made on first use and shared by the tests
// of one process (ctest runs each test in its own, which then makes only the runs it needs).
class Runs {
 public:
  static Runs& get() {
    static Runs r;
    return r;
  }
  const std::string& data() {
    if (data_.empty()) {
      const std::string d = tmp_ / "data";
      const RunResult r = run_contraseg("synth --out " + d + " --patients 8 --threads 2 --seed 3");
      EXPECT_EQ(r.status, 0) << r.out << r.err;
      // A test set of two patients keeps each evaluation short.
      write_text(d + "/splits.json", R"({"dataset": "acdc", "test": ["007", "008"],
        "pretrain": {"name": "pool", "train": ["001", "002", "003", "004"], "val": ["005", "006"]},
        "labeled": {"tr1": {"c1": {"train": ["001"], "val": ["005", "006"]}}},
        "benchmark": {"name": "trall", "train": ["001", "002"], "val": ["005", "006"]}})");
      write_text(tmp_ / "tiny.json", R"({"dataset": "acdc", "image_size": 32, "target_res": 8.0, "threads": 1,
        "global": {"iterations": 2, "volumes": 2, "knn_every": 0}, "local": {"iterations": 2, "batch": 2, "retrieval_every": 0},
        "finetune": {"iterations": 4, "batch": 4, "val_every": 2}})");
      data_ = d;
    }
    return data_;
  }
  // A finished run of `stage` ("finetune" or "pretrain-global") with `seed`: runs of the same stage
  // and another seed have other config hashes.
  std::string run(const std::string& stage, int seed) {
    const std::string dir = tmp_ / fmt::format("{}_{}", stage, seed);
    if (!fs::exists(dir + "/checkpoints/final.safetensors")) {
      const std::string d = data();
      const RunResult r = run_contraseg(fmt::format("{} --config {} --data {} --quiet --out {} --set seed={}", stage,
                                                    tmp_ / "tiny.json", d, dir, seed));
      EXPECT_EQ(r.status, 0) << r.out << r.err;
    }
    return dir;
  }
  std::string image() { return data() + "/patient007/patient007_frame01.nii.gz"; }
  const TempDir& tmp() const { return tmp_; }

 private:
  TempDir tmp_;
  std::string data_;
};

// A copy of the run folder `from` at `to`.
void copy_run(const std::string& from, const std::string& to) {
  fs::copy(from, to, fs::copy_options::recursive);
  fs::remove(to + "/run.lock");
}

// ---- 1. predict never replaces its input, and an existing output only with --overwrite

TEST(NoOverwrite, PredictRefusesToWriteOverItsOwnInput) {
  Runs& runs = Runs::get();
  const std::string ft = runs.run("finetune", 0);
  TempDir tmp;
  const std::string in = tmp / "in.nii.gz";
  fs::copy_file(runs.image(), in);
  fs::create_hard_link(in, tmp / "hard.nii.gz");
  fs::create_symlink(in, tmp / "soft.nii.gz");
  const std::string before = stamp(in);
  // The same path, another spelling of it, a hard link and a symbolic link: all the input itself.
  for (const std::string& out : {in, tmp.path() + "/./in.nii.gz", tmp / "hard.nii.gz", tmp / "soft.nii.gz"}) {
    const RunResult r = run_contraseg("predict --run " + ft + " --image " + in + " --out " + out + " --overwrite");
    EXPECT_EQ(r.status, 2) << out << "\n" << r.out << r.err;
    EXPECT_TRUE(contains(r.err, "--out " + out + " is the input image --image " + in + " (the same file)")) << r.err;
    EXPECT_TRUE(contains(r.err, "choose another --out")) << r.err;
    EXPECT_EQ(stamp(in), before) << out;
  }
}

TEST(NoOverwrite, PredictReplacesAnExistingOutputOnlyWithOverwrite) {
  Runs& runs = Runs::get();
  const std::string ft = runs.run("finetune", 0);
  TempDir tmp;
  const std::string out = tmp / "labels.nii.gz";
  write_text(out, "a file of the user's");
  const std::string before = stamp(out);
  const std::string args = "predict --run " + ft + " --image " + runs.image() + " --out " + out;
  RunResult r = run_contraseg(args);
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, out + ": exists already; add --overwrite to replace it, or choose another name"))
      << r.err;
  EXPECT_EQ(stamp(out), before);
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 1);  // no temporary file

  r = run_contraseg(args + " --overwrite");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(read_nifti(out).nx, read_nifti(runs.image()).nx);
}

// ---- 2. a 4D image: which volume is segmented is said, and --channel is checked

// `image` stored twice along a 4th dimension (T=2) in an uncompressed .nii.
std::string four_d_copy(const std::string& image, const std::string& path) {
  Volume v = read_nifti(image);
  const size_t n = v.data.size();
  v.data.resize(2 * n);
  std::copy(v.data.begin(), v.data.begin() + static_cast<std::ptrdiff_t>(n), v.data.begin() + static_cast<std::ptrdiff_t>(n));
  const int nz = v.nz;
  v.nz *= 2;
  write_nifti_label(path, v, 4);  // int16, as the phantom's images
  auto b = read_bytes(path);
  const int16_t dims[3] = {4, static_cast<int16_t>(nz), 2};  // dim[0] (at byte 40), dim[3], dim[4]
  std::memcpy(b.data() + 40, &dims[0], 2);
  std::memcpy(b.data() + 46, &dims[1], 4);
  write_bytes(path, b);
  return path;
}

TEST(NoOverwrite, PredictSaysWhichVolumeOfA4DImageItSegments) {
  Runs& runs = Runs::get();
  const std::string ft = runs.run("finetune", 0);
  TempDir tmp;
  const std::string in = four_d_copy(runs.image(), tmp / "cine.nii");
  ASSERT_EQ(read_nifti(in).nt, 2);
  const std::string args = "predict --run " + ft + " --image " + in + " --out ";

  RunResult r = run_contraseg(args + tmp / "t0.nii.gz");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "predict: " + in + " is 4D (T=2); segmenting volume 0 of 0..1 (--channel T picks "
                              "another)"))
      << r.out;
  r = run_contraseg(args + tmp / "t1.nii.gz --channel 1");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "is 4D (T=2); segmenting volume 1 of 0..1")) << r.out;

  for (const char* bad : {"2", "-1"}) {
    r = run_contraseg(args + tmp / "bad.nii.gz --channel " + bad);
    EXPECT_EQ(r.status, 2) << r.out << r.err;
    EXPECT_TRUE(contains(r.err, "option --channel: " + in + " has 2 volumes (4D, T=2); --channel takes 0..1, not " +
                                    bad))
        << r.err;
    EXPECT_FALSE(fs::exists(tmp / "bad.nii.gz"));
  }
  // A 3D image has only volume 0; it is segmented without a note.
  r = run_contraseg("predict --run " + ft + " --image " + runs.image() + " --out " + tmp / "bad.nii.gz --channel 1");
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "has one volume (3D), so --channel can only be 0, not 1")) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "bad.nii.gz"));
  r = run_contraseg("predict --run " + ft + " --image " + runs.image() + " --out " + tmp / "3d.nii.gz");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_FALSE(contains(r.out, "is 4D")) << r.out;
}

// ---- 4. synth replaces a folder only with --overwrite, and then whole

TEST(NoOverwrite, SynthRefusesAFolderThatIsNotEmpty) {
  TempDir tmp;
  const std::string out = tmp / "mine";
  write_text(out + "/notes.txt", "the user's notes");
  const auto before = stamps_of(out);
  const RunResult r = run_contraseg("synth --out " + out + " --patients 2 --threads 2");
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, out + ": not empty (it holds notes.txt); synth writes a whole folder: choose a "
                                    "new or empty --out, or add --overwrite to replace this one"))
      << r.err;
  EXPECT_EQ(stamps_of(out), before);
  EXPECT_TRUE(siblings_of(out).empty());
}

TEST(NoOverwrite, SynthOverwriteReplacesTheWholeDataset) {
  TempDir tmp;
  const std::string out = tmp / "data";
  RunResult r = run_contraseg("synth --out " + out + " --patients 8 --threads 2");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  ASSERT_TRUE(fs::exists(out + "/splits.json"));
  const auto eight = stamps_of(out);

  r = run_contraseg("synth --out " + out + " --patients 3 --threads 2 --seed 5");  // without --overwrite
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "not empty (it holds patient001, patient002, patient003, ... (9 entries))")) << r.err;
  EXPECT_EQ(stamps_of(out), eight);

  r = run_contraseg("synth --out " + out + " --patients 3 --threads 2 --seed 5 --overwrite");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(out)) entries.push_back(e.path().filename().string());
  std::sort(entries.begin(), entries.end());
  // patients 4..8 and the split of the eight are gone, and the output says there is no split.
  EXPECT_EQ(entries, (std::vector<std::string>{"patient001", "patient002", "patient003"}));
  EXPECT_TRUE(contains(r.out, "synth: no " + out + "/splits.json: a split needs at least")) << r.out;
  EXPECT_TRUE(siblings_of(out).empty());
}

TEST(NoOverwrite, SynthOverwriteRefusesWhatSynthDidNotWrite) {
  TempDir tmp;
  const std::string out = tmp / "data";
  ASSERT_EQ(run_contraseg("synth --out " + out + " --patients 1 --threads 1").status, 0);
  write_text(out + "/patient001/notes.txt", "the user's notes");
  const auto before = stamps_of(out);
  RunResult r = run_contraseg("synth --out " + out + " --patients 1 --overwrite");
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, out + ": --overwrite replaces only a folder that synth wrote, and " + out +
                                    "/patient001/notes.txt is not its"))
      << r.err;
  EXPECT_EQ(stamps_of(out), before);

  // The working directory and the folders above it, whatever they hold.
  write_text(tmp / "work/notes.txt", "x");
  const std::string notes = stamp(tmp / "work/notes.txt");
  const WorkingDirectory in(tmp / "work");
  for (const auto& [dir, what] : std::vector<std::pair<std::string, std::string>>{
           {".", "is the current directory"}, {"..", "is a folder above the current directory"},
           {"/", "is the root folder"}}) {
    r = run_contraseg("synth --out " + dir + " --patients 1 --overwrite");
    EXPECT_EQ(r.status, 1) << dir << "\n" << r.out << r.err;
    EXPECT_TRUE(contains(r.err, dir + ": " + what + "; synth --overwrite replaces its --out folder whole")) << r.err;
  }
  EXPECT_EQ(stamps_of(out), before);
  EXPECT_EQ(stamp(tmp / "work/notes.txt"), notes);
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 2);  // data, work
}

// ---- 5. draw's default folder is never docs/img, and existing pictures need --overwrite

TEST(NoOverwrite, DrawIntoAFolderThatCannotBeMadeFails) {
  TempDir tmp;
  write_text(tmp / "plain_file", "a file, not a folder");
  const RunResult r = run_contraseg("draw --out " + tmp / "plain_file/pictures");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(contains(r.err, tmp / "plain_file/pictures: cannot create the folder")) << r.err;
}

TEST(NoOverwrite, DrawNeverWritesIntoDocsByDefault) {
  TempDir tmp;
  write_text(tmp / "docs/img/gd_paper.png", "the documentation's picture");
  const std::string before = stamp(tmp / "docs/img/gd_paper.png");
  const WorkingDirectory in(tmp.path());
  RunResult r = run_contraseg("draw");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(stamp(tmp / "docs/img/gd_paper.png"), before);
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp / "docs/img"), fs::directory_iterator()), 1);
  for (const char* png : {"gd_paper.png", "gd_reference.png", "gdminus_paper.png", "gdminus_reference.png",
                          "local_regions.png", "local_negatives.png"})
    EXPECT_TRUE(fs::exists(tmp / ("draw-pictures/" + std::string(png)))) << png;
  EXPECT_TRUE(contains(run_contraseg("draw --help").out, "default draw-pictures"));

  // Drawn there once, the pictures are replaced only with --overwrite.
  const auto drawn = stamps_of(tmp / "draw-pictures");
  r = run_contraseg("draw");
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "draw-pictures: holds gd_paper.png, gd_reference.png, gdminus_paper.png, "
                              "gdminus_reference.png, local_regions.png, local_negatives.png already; add "
                              "--overwrite to replace them, or choose another --out"))
      << r.err;
  EXPECT_EQ(stamps_of(tmp / "draw-pictures"), drawn);
  r = run_contraseg("draw --out docs/img");
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_EQ(stamp(tmp / "docs/img/gd_paper.png"), before);
  r = run_contraseg("draw --overwrite");
  EXPECT_EQ(r.status, 0) << r.out << r.err;
}

// ---- 6. a checkpoint is used only by the run that made it

// Expects `r` to have refused `ck` as another run's, naming both hashes.
void expect_foreign_checkpoint(const RunResult& r, const std::string& ck, const std::string& run_dir,
                               const std::string& own_hash, const std::string& other_hash) {
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, ck + ": not made by the run in " + run_dir)) << r.err;
  EXPECT_TRUE(contains(r.err, "config hash " + other_hash + "; " + run_dir + "/config.json says stage")) << r.err;
  EXPECT_TRUE(contains(r.err, "config hash " + own_hash + ". Weights copied from another run")) << r.err;
  EXPECT_TRUE(contains(r.err, "use the run folder that made them")) << r.err;
}

std::string hash_of(const std::string& run_dir) {
  return testing_io::load_json(run_dir + "/config.json")["config_hash"].get<std::string>();
}

TEST(NoOverwrite, EvaluateAndPredictUseOnlyTheRunsOwnWeights) {
  Runs& runs = Runs::get();
  const std::string ft = runs.run("finetune", 0), other = runs.run("finetune", 1);
  ASSERT_NE(hash_of(ft), hash_of(other));
  TempDir tmp;
  // The control: the run as it was made evaluates and predicts.
  RunResult r = run_contraseg("evaluate --run " + ft + " --out " + tmp / "eval");
  ASSERT_EQ(r.status, 0) << r.out << r.err;

  for (const char* which : {"best", "final"}) {
    SCOPED_TRACE(which);
    const std::string copy = tmp / (std::string("copy_") + which);
    copy_run(ft, copy);
    const std::string ck = copy + "/checkpoints/" + which + ".safetensors";
    fs::copy_file(other + "/checkpoints/" + which + ".safetensors", ck, fs::copy_options::overwrite_existing);
    r = run_contraseg("evaluate --run " + copy + " --out " + tmp / "never_eval");
    expect_foreign_checkpoint(r, ck, copy, hash_of(ft), hash_of(other));
    EXPECT_FALSE(fs::exists(tmp / "never_eval"));
    r = run_contraseg("predict --run " + copy + " --image " + runs.image() + " --out " + tmp / "never.nii.gz");
    expect_foreign_checkpoint(r, ck, copy, hash_of(ft), hash_of(other));
    EXPECT_FALSE(fs::exists(tmp / "never.nii.gz"));
  }
}

// evaluate --overwrite replaces an evaluation, never a folder it did not write.
TEST(NoOverwrite, EvaluateReplacesOnlyAnEvaluation) {
  Runs& runs = Runs::get();
  const std::string ft = runs.run("finetune", 0);
  TempDir tmp;
  const std::string mine = tmp / "mine";
  fs::create_directories(mine);
  write_text(mine + "/thesis.tex", "years of work");
  RunResult r = run_contraseg("evaluate --run " + ft + " --out " + mine + " --overwrite");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find(mine + "/thesis.tex is not its"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(mine + "/thesis.tex"));
  r = run_contraseg("evaluate --run " + ft + " --out " + ft + " --overwrite");  // the run folder itself
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(fs::exists(ft + "/config.json"));
  r = run_contraseg("evaluate --run " + ft + " --out " + tmp / "eval");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  r = run_contraseg("evaluate --run " + ft + " --out " + tmp / "eval" + " --overwrite");
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(fs::exists(tmp / "eval/summary.json"));
}

TEST(NoOverwrite, InitTakesOnlyTheInitRunsOwnWeights) {
  Runs& runs = Runs::get();
  const std::string g = runs.run("pretrain-global", 0), other = runs.run("pretrain-global", 1);
  TempDir tmp;
  const std::string copy = tmp / "g_copy";
  copy_run(g, copy);
  const std::string ck = copy + "/checkpoints/final.safetensors";
  fs::copy_file(other + "/checkpoints/final.safetensors", ck, fs::copy_options::overwrite_existing);
  const std::string common =
      " --config " + runs.tmp() / "tiny.json" + " --data " + runs.data() + " --quiet --init " + copy + " --out ";
  for (const char* stage : {"pretrain-local", "finetune"}) {
    SCOPED_TRACE(stage);
    const std::string out = tmp / (std::string("from_copy_") + stage);
    const RunResult r = run_contraseg(stage + common + out);
    expect_foreign_checkpoint(r, ck, copy, hash_of(g), hash_of(other));
    EXPECT_FALSE(fs::exists(out + "/checkpoints"));
  }
  // The control: the run's own weights are taken.
  const RunResult r = run_contraseg("pretrain-local --config " + runs.tmp() / "tiny.json" + " --data " + runs.data() +
                                    " --quiet --init " + g + " --out " + tmp / "from_g");
  EXPECT_EQ(r.status, 0) << r.out << r.err;
}

}  // namespace
}  // namespace cs
