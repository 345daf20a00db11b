// `contraseg preprocess` on a tiny ACDC tree.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "support/io_test_util.h"
#include "io/formats/nifti.h"
#include "io/datasets/n4.h"
#include "io/datasets/preprocess.h"

namespace cs {
namespace {

using testing_io::TempDir;

void make_acdc_case(const TempDir& t, const std::string& id, int nx, int ny) {
  const std::string dir = t / ("data/training/patient" + id);
  std::filesystem::create_directories(dir);
  Volume img = testing_io::pattern_volume(nx, ny, 3, 1.8f, 1.8f, 10.f);
  Volume lab = img;
  for (float& x : lab.data) x = std::fmod(x, 4.f);
  write_nifti_image(dir + "/patient" + id + "_frame01.nii.gz", img);
  write_nifti_label(dir + "/patient" + id + "_frame01_gt.nii.gz", lab);
}

TEST(PreprocessCommand, WritesCroppedVolumes) {
  TempDir t;
  make_acdc_case(t, "003", 100, 160);  // 1.8 mm -> 1.36719 mm: 132 x 211 -> padded rows, cropped cols
  make_acdc_case(t, "004", 90, 90);
  const auto r = testing_io::run_contraseg("preprocess --dataset acdc --data '" + t / "data" + "' --out '" + t / "out" +
                                           "' --ids 004,003");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("[2/2] 003"), std::string::npos) << r.out;
  const Volume img = read_nifti(t / "out/003/img_cropped.nii.gz");
  const Volume lab = read_nifti(t / "out/003/mask_cropped.nii.gz");
  EXPECT_EQ(img.nx, 192);
  EXPECT_EQ(img.ny, 192);
  EXPECT_EQ(img.nz, 3);
  EXPECT_EQ(lab.datatype, 2);
  EXPECT_NEAR(img.dx, 1.8 * 100 / 132, 1e-5);
  // the same values as the library path
  const Volume src = read_nifti(t / "data/training/patient003/patient003_frame01.nii.gz");
  const Volume srcl = read_nifti(t / "data/training/patient003/patient003_frame01_gt.nii.gz");
  const SliceStack s = preprocess_volume(src, &srcl, dataset_params("acdc"));
  EXPECT_EQ(img.at(100, 50, 2), s.image[(2 * 192 + 100) * 192 + 50]);
  EXPECT_EQ(lab.at(100, 50, 2), static_cast<float>(s.label[(2 * 192 + 100) * 192 + 50]));
  EXPECT_TRUE(std::filesystem::exists(t / "out/004/mask_cropped.nii.gz"));
}

TEST(PreprocessCommand, ClearErrors) {
  TempDir t;
  make_acdc_case(t, "005", 40, 40);
  testing_io::RunResult r;
  if (!n4_available()) {  // with ITK, test_n4_pipeline.cpp runs --n4
    r = testing_io::run_contraseg("preprocess --dataset acdc --data '" + t / "data" + "' --out '" + t / "out" + "' --n4");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("ITK"), std::string::npos) << r.err;
  }
  r = testing_io::run_contraseg("preprocess --dataset acdc --data '" + t / "data" + "' --out '" + t / "out" + "' --ids 099");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("099"), std::string::npos) << r.err;
  r = testing_io::run_contraseg("preprocess --dataset brats --data '" + t / "data" + "' --out '" + t / "out" + "'");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("brats"), std::string::npos) << r.err;
}

// An existing output folder is replaced only on request, whole, and only when preprocess wrote it.
TEST(PreprocessCommand, ReplacesItsOutputOnlyWithOverwrite) {
  TempDir t;
  make_acdc_case(t, "003", 40, 40);
  make_acdc_case(t, "004", 40, 40);
  const std::string args = "preprocess --dataset acdc --data '" + t / "data" + "' --out '" + t / "out" + "'";
  auto r = testing_io::run_contraseg(args);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  const auto before = testing_io::read_bytes(t / "out/003/img_cropped.nii.gz");
  r = testing_io::run_contraseg(args + " --ids 004");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find(t / "out: not empty (it holds 003, 004); preprocess writes a whole folder"), std::string::npos)
      << r.err;
  EXPECT_EQ(testing_io::read_bytes(t / "out/003/img_cropped.nii.gz"), before);
  r = testing_io::run_contraseg(args + " --ids 004 --overwrite");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_FALSE(std::filesystem::exists(t / "out/003")) << "a case of the replaced output survived";
  EXPECT_TRUE(std::filesystem::exists(t / "out/004/img_cropped.nii.gz"));
  testing_io::write_text(t / "out/notes.txt", "mine");
  r = testing_io::run_contraseg(args + " --overwrite");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("notes.txt is not its"), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::exists(t / "out/notes.txt"));
  // A case that fails leaves no half output.
  r = testing_io::run_contraseg("preprocess --dataset acdc --data '" + t / "data" + "' --out '" + t / "fresh" +
                                "' --ids 003,099");
  EXPECT_NE(r.status, 0);
  EXPECT_FALSE(std::filesystem::exists(t / "fresh"));
}

}  // namespace
}  // namespace cs
