// Dataset layouts on small trees written into a temporary folder, and their error paths.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "io/datasets/datasets.h"
#include "support/io_test_util.h"
#include "io/formats/nifti.h"

namespace cs {
namespace {

namespace fs = std::filesystem;
using testing_io::TempDir;
using testing_io::write_text;

Volume image_volume(float offset = 0.f) {
  Volume v = testing_io::pattern_volume(4, 3, 2, 1.5f, 1.25f, 8.f);
  for (float& x : v.data) x += offset;
  return v;
}

Volume label_volume(const Volume& like, std::initializer_list<float> values) {
  Volume v = like;
  size_t i = 0;
  const std::vector<float> vals(values);
  for (float& x : v.data) x = vals[i++ % vals.size()];
  return v;
}

void put_image(const std::string& path, const Volume& v) {
  fs::create_directories(fs::path(path).parent_path());
  write_nifti_image(path, v);
}

void put_label(const std::string& path, const Volume& v) {
  fs::create_directories(fs::path(path).parent_path());
  write_nifti_label(path, v, 4);
}

// A labelled case: `img` at `image` and, at `label`, a label of its geometry cycling through `values`.
void put_labelled(const std::string& image, const std::string& label, const Volume& img,
                  std::initializer_list<float> values) {
  put_image(image, img);
  put_label(label, label_volume(img, values));
}

template <typename Fn>
void expect_error(Fn fn, const std::string& what1, const std::string& what2 = "") {
  try {
    fn();
    ADD_FAILURE() << "no exception";
  } catch (const std::exception& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(what1), std::string::npos) << m;
    if (!what2.empty()) {
      EXPECT_NE(m.find(what2), std::string::npos) << m;
    }
  }
}

// ---- ACDC

void acdc_patient(const TempDir& t, const std::string& sub, int n, bool info = true, bool frame01 = true) {
  char name[32];
  std::snprintf(name, sizeof(name), "patient%03d", n);
  const std::string dir = t / (sub + name);
  const Volume img = image_volume(static_cast<float>(n));
  if (frame01) {
    put_labelled(dir + "/" + name + "_frame01.nii.gz", dir + "/" + name + "_frame01_gt.nii.gz", img, {0, 1, 2, 3});
  }
  put_image(dir + "/" + name + "_frame12.nii.gz", image_volume(1000.f + n));
  put_label(dir + "/" + name + "_frame12_gt.nii.gz", label_volume(img, {3, 2}));
  if (info) write_text(dir + "/Info.cfg", "ED: 1\nES: 12\nGroup: DCM\nHeight: 184.0\nNbFrame: 30\nWeight: 95.0\n");
  write_text(dir + "/" + name + "_4d.nii.gz", "not read");
}

TEST(Datasets, AcdcLayoutAndPhases) {
  TempDir t;
  acdc_patient(t, "training/", 1);
  acdc_patient(t, "training/", 42);
  acdc_patient(t, "testing/", 101);
  write_text(t / "training/notes.txt", "ignored");
  auto cases = list_acdc(t.path());
  ASSERT_EQ(cases.size(), 3u);
  EXPECT_EQ(cases[0].id, "001");
  EXPECT_EQ(cases[1].id, "042");
  EXPECT_EQ(cases[2].id, "101");
  EXPECT_NE(cases[1].image.find("patient042_frame01.nii.gz"), std::string::npos);
  EXPECT_NE(cases[1].label.find("patient042_frame01_gt.nii.gz"), std::string::npos);
  const LoadedCase c = load_case(cases[1]);
  EXPECT_EQ(c.id, "042");
  EXPECT_EQ(c.image.data, image_volume(42.f).data);
  EXPECT_EQ(c.label.data[1], 1.f);
  EXPECT_EQ(c.label.data[3], 3.f);
  // ES from Info.cfg
  cases = list_acdc(t.path(), parse_acdc_phase("ES"));
  EXPECT_NE(cases[0].image.find("patient001_frame12.nii.gz"), std::string::npos);
  EXPECT_EQ(load_case(cases[0]).image.data[0], image_volume(1001.f).data[0]);
  EXPECT_NE(list_acdc(t.path(), AcdcPhase::ED)[2].image.find("patient101_frame01"), std::string::npos);
  // list_cases dispatches, and a root holding the patient folders directly works too
  EXPECT_EQ(list_cases("acdc", t / "training").size(), 2u);
  EXPECT_THROW(parse_acdc_phase("mid"), std::invalid_argument);
}

TEST(Datasets, AcdcErrorsNameTheCase) {
  {
    TempDir t;
    acdc_patient(t, "", 7, /*info=*/false);
    EXPECT_EQ(list_acdc(t.path()).size(), 1u);  // frame01 needs no Info.cfg
    expect_error([&] { list_acdc(t.path(), AcdcPhase::ES); }, "007", "Info.cfg");
  }
  {
    TempDir t;
    acdc_patient(t, "", 8, true, /*frame01=*/false);
    expect_error([&] { list_acdc(t.path()); }, "008", "missing image");
    write_text(t / "patient008/Info.cfg", "ED: x1\n");
    expect_error([&] { list_acdc(t.path(), AcdcPhase::ED); }, "008", "bad ED");
  }
  {
    TempDir t;
    expect_error([&] { list_acdc(t / "nothing"); }, "no such folder");
    expect_error([&] { list_acdc(t.path()); }, "no ACDC");
  }
}

TEST(Datasets, LoadCaseChecksImageAgainstLabel) {
  TempDir t;
  const Volume img = image_volume();
  put_image(t / "img.nii.gz", img);
  // dims differ
  Volume small = make_volume(4, 3, 1, 1.5f, 1.25f, 8.f);
  put_label(t / "dims.nii.gz", small);
  expect_error([&] { load_case({"017", t / "img.nii.gz", t / "dims.nii.gz"}); }, "case 017", "dims differ");
  // voxel size differs
  Volume vox = label_volume(img, {0});
  vox.dy = 1.5f;
  put_label(t / "vox.nii.gz", vox);
  expect_error([&] { load_case({"018", t / "img.nii.gz", t / "vox.nii.gz"}); }, "case 018", "voxel sizes differ");
  // affine differs (a shifted origin)
  Volume moved = label_volume(img, {0});
  moved.sto_xyz[2][3] += 5;
  put_label(t / "moved.nii.gz", moved);
  expect_error([&] { load_case({"019", t / "img.nii.gz", t / "moved.nii.gz"}); }, "case 019", "affines differ");
  // a tiny float difference is within tolerance
  Volume close = label_volume(img, {0});
  close.sto_xyz[2][3] += 1e-5;
  put_label(t / "close.nii.gz", close);
  EXPECT_NO_THROW(load_case({"020", t / "img.nii.gz", t / "close.nii.gz"}));
  // missing files, missing label when required
  expect_error([&] { load_case({"021", t / "none.nii.gz", ""}); }, "case 021", "missing image");
  expect_error([&] { load_case({"022", t / "img.nii.gz", t / "none.nii.gz"}); }, "case 022", "missing label");
  expect_error([&] { load_case({"023", t / "img.nii.gz", ""}); }, "case 023", "no label");
  EXPECT_FALSE(load_case({"024", t / "img.nii.gz", ""}, false).has_label());
  // a corrupt image names the case and the file
  write_text(t / "bad.nii.gz", "garbage");
  expect_error([&] { load_case({"025", t / "bad.nii.gz", ""}, false); }, "case 025", "bad.nii.gz");
}

// ---- Prostate

TEST(Datasets, ProstateMsdUsesChannelZero) {
  TempDir t;
  const std::string four_d = testing_io::fixture("int16_4d.nii.gz");  // 5x4x3x2
  fs::create_directories(t / "imagesTr");
  fs::copy_file(four_d, t / "imagesTr/prostate_00.nii.gz");
  fs::copy_file(four_d, t / "imagesTr/prostate_16.nii.gz");
  write_text(t / "imagesTr/._prostate_00.nii.gz", "macOS resource fork");
  const Volume t0 = read_nifti(four_d, 0), t1 = read_nifti(four_d, 1);
  ASSERT_NE(t0.data, t1.data);
  put_label(t / "labelsTr/prostate_00.nii.gz", label_volume(t0, {0, 1, 2}));
  put_label(t / "labelsTr/prostate_16.nii.gz", label_volume(t0, {2}));
  const auto cases = list_prostate(t.path());
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[0].id, "000");
  EXPECT_EQ(cases[1].id, "016");
  const LoadedCase c = load_case(cases[0]);
  EXPECT_EQ(c.image.data, t0.data);  // T2, not ADC
  EXPECT_EQ(c.label.data[2], 2.f);
  EXPECT_EQ(select_cases(cases, {"016"})[0].image, cases[1].image);
  expect_error([&] { select_cases(cases, {"016", "029", "031"}); }, "029, 031", "not found");
}

TEST(Datasets, ProstateReferenceLayout) {
  TempDir t;
  const Volume img = image_volume();
  put_labelled(t / "000/img.nii.gz", t / "000/mask.nii.gz", img, {1});
  put_image(t / "013/img.nii.gz", img);
  const auto cases = list_cases("prostate", t.path());
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[1].id, "013");
  EXPECT_TRUE(cases[1].label.empty());
  EXPECT_EQ(load_case(cases[0]).label.data[0], 1.f);
  expect_error([&] { load_case(cases[1]); }, "case 013", "no label");
  fs::remove(t / "013/img.nii.gz");
  expect_error([&] { list_prostate(t.path()); }, "013", "missing image");
}

// ---- MM-WHS

TEST(Datasets, MmwhsRemapsLabels) {
  TempDir t;
  const Volume img = image_volume();
  put_labelled(t / "mr_train/mr_train_1001_image.nii.gz", t / "mr_train/mr_train_1001_label.nii.gz", img,
               {0, 205, 420, 500, 550, 600, 820, 850, 421});
  put_labelled(t / "mr_train/mr_train_1002_image.nii.gz", t / "mr_train/mr_train_1002_label.nii.gz", img,
               {0, 205, 999});
  const auto cases = list_mmwhs(t.path());
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[0].id, "1001");
  const LoadedCase c = load_case(cases[0]);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(c.label.data[i], i < 8 ? static_cast<float>(i) : 2.f) << i;
  expect_error([&] { load_case(cases[1]); }, "case 1002", "999");
}

TEST(Datasets, MmwhsReferenceLayoutKeepsRemappedLabels) {
  TempDir t;
  const Volume img = image_volume();
  put_labelled(t / "1003/img.nii.gz", t / "1003/seg.nii.gz", img, {0, 1, 7});
  const auto cases = list_cases("mmwhs", t.path());
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].id, "1003");
  const LoadedCase c = load_case(cases[0]);
  EXPECT_EQ(c.label.data[1], 1.f);
  EXPECT_EQ(c.label.data[2], 7.f);
}

// ---- nnU-Net

TEST(Datasets, NnunetRawLayout) {
  TempDir t;
  const Volume img = image_volume();
  write_text(t / "dataset.json",
             R"({"channel_names": {"0": "MRI"}, "labels": {"background": 0, "a": 1}, "numTraining": 2,
                 "file_ending": ".nii.gz"})");
  put_image(t / "imagesTr/heart_001_0000.nii.gz", img);
  put_image(t / "imagesTr/heart_001_0001.nii.gz", img);  // a second channel: not a case of its own
  put_label(t / "labelsTr/heart_001.nii.gz", label_volume(img, {1}));
  put_labelled(t / "imagesTr/heart_002_0000.nii.gz", t / "labelsTr/heart_002.nii.gz", img, {0});
  put_image(t / "imagesTs/heart_100_0000.nii.gz", img);
  const auto cases = list_cases("nnunet", t.path());
  ASSERT_EQ(cases.size(), 3u);
  EXPECT_EQ(cases[0].id, "heart_001");
  EXPECT_EQ(cases[2].id, "heart_100");
  EXPECT_TRUE(cases[2].label.empty());
  EXPECT_EQ(load_case(cases[0]).label.data[0], 1.f);
  fs::remove(t / "labelsTr/heart_002.nii.gz");
  expect_error([&] { list_nnunet(t.path()); }, "heart_002", "missing label");
  fs::remove(t / "dataset.json");
  expect_error([&] { list_nnunet(t.path()); }, "dataset.json");
  expect_error([&] { list_cases("brats", t.path()); }, "unknown dataset");
}

}  // namespace
}  // namespace cs
