// The synthetic cardiac phantom: anatomy as labelled, geometry, determinism, files on disk.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <map>
#include <sstream>

#include <unistd.h>

#include "io/nifti.h"
#include "io/synth.h"

namespace cs {
namespace {

namespace fs = std::filesystem;

const PhantomPatient& patient(int id) {
  static std::map<int, PhantomPatient> cache;
  auto it = cache.find(id);
  if (it == cache.end()) {
    PhantomOptions o;
    o.patients = 5;  // one patient per ACDC group
    o.seed = 7;
    it = cache.emplace(id, make_phantom_patient(id, o)).first;
  }
  return it->second;
}

int count_in_slice(const Volume& lab, int k, int value) {
  int c = 0;
  for (int j = 0; j < lab.ny; ++j)
    for (int i = 0; i < lab.nx; ++i) c += lab.at(i, j, k) == value;
  return c;
}

TEST(Synth, GroupsFollowAcdcBlocks) {
  EXPECT_EQ(phantom_group(1, 100), "DCM");
  EXPECT_EQ(phantom_group(20, 100), "DCM");
  EXPECT_EQ(phantom_group(21, 100), "HCM");
  EXPECT_EQ(phantom_group(61, 100), "NOR");
  EXPECT_EQ(phantom_group(100, 100), "RV");
  EXPECT_EQ(phantom_group(3, 5), "MINF");
  EXPECT_THROW(phantom_group(6, 5), std::invalid_argument);
  EXPECT_EQ(phantom_patient_name(7), "patient007");
}

TEST(Synth, EveryPatientHasAllStructuresAndNoRvAtTheApex) {
  for (int id = 1; id <= 5; ++id) {
    const PhantomPatient& p = patient(id);
    for (const PhantomFrame* f : {&p.ed, &p.es}) {
      const Volume& im = f->image;
      const Volume& lb = f->label;
      ASSERT_EQ(im.nx, lb.nx);
      ASSERT_EQ(im.ny, lb.ny);
      ASSERT_EQ(im.nz, lb.nz);
      ASSERT_EQ(im.data.size(), im.size());
      ASSERT_EQ(lb.data.size(), lb.size());
      EXPECT_EQ(im.dx, lb.dx);
      EXPECT_EQ(im.dz, lb.dz);
      for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 4; ++c) EXPECT_EQ(im.sto_xyz[r][c], lb.sto_xyz[r][c]);
      EXPECT_EQ(im.quatern_b, lb.quatern_b);
      std::set<int> values;
      for (float v : lb.data) values.insert(static_cast<int>(v));
      if (f == &p.ed) {
        EXPECT_EQ(values, (std::set<int>{0, 1, 2, 3})) << "patient " << id;
      }
      for (float v : im.data) {
        ASSERT_EQ(v, std::round(v));
        ASSERT_GE(v, 0.f);
        ASSERT_LE(v, 32767.f);
      }
    }
    const Volume& lb = p.ed.label;
    EXPECT_GT(count_in_slice(lb, 0, 1), 0) << "RV at the base, patient " << id;
    EXPECT_EQ(count_in_slice(lb, lb.nz - 1, 1), 0) << "no RV at the apex, patient " << id;
    EXPECT_GT(count_in_slice(lb, lb.nz - 1, 2), 0) << "myocardium at the apex, patient " << id;
    // Acquisition ranges.
    const Volume& im = p.ed.image;
    EXPECT_GE(im.dx, 1.2f);
    EXPECT_LE(im.dx, 1.9f);
    EXPECT_GE(im.dz, 5.f);
    EXPECT_LE(im.dz, 10.f);
    EXPECT_GE(im.nz, 6);
    EXPECT_LE(im.nz, 12);
    EXPECT_GT(p.es_frame, p.ed_frame);
    EXPECT_LE(p.es_frame, p.nb_frames);
  }
}

TEST(Synth, BloodIsBrightMyocardiumDarkAndSystoleSmaller) {
  for (int id = 1; id <= 5; ++id) {
    const PhantomPatient& p = patient(id);
    double sum[4] = {0, 0, 0, 0};
    int cnt[4] = {0, 0, 0, 0}, lv_es = 0;
    for (size_t i = 0; i < p.ed.label.data.size(); ++i) {
      const int l = static_cast<int>(p.ed.label.data[i]);
      sum[l] += p.ed.image.data[i];
      cnt[l]++;
    }
    for (float v : p.es.label.data) lv_es += v == 3;
    const double lv = sum[3] / cnt[3], rv = sum[1] / cnt[1], myo = sum[2] / cnt[2];
    EXPECT_GT(lv, 1.5 * myo) << "patient " << id;
    EXPECT_GT(rv, 1.5 * myo) << "patient " << id;
    EXPECT_LT(lv_es, cnt[3]) << "patient " << id;
  }
}

TEST(Synth, SameSeedSamePatientOtherSeedOtherPatient) {
  PhantomOptions o;
  o.patients = 5;
  o.seed = 7;
  const PhantomPatient a = make_phantom_patient(2, o);
  EXPECT_EQ(a.ed.image.data, patient(2).ed.image.data);
  EXPECT_EQ(a.es.label.data, patient(2).es.label.data);
  o.seed = 8;
  const PhantomPatient b = make_phantom_patient(2, o);
  EXPECT_TRUE(b.ed.image.data != a.ed.image.data);
  EXPECT_THROW(make_phantom_patient(6, o), std::invalid_argument);
}

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("contraseg_test_synth_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

TEST(Synth, WrittenFilesReadBackInTheAcdcLayout) {
  const fs::path dir = temp_dir("write");
  const PhantomPatient& p = patient(4);
  write_phantom_patient(dir.string(), p);
  const fs::path pd = dir / "patient004";
  char es[32];
  std::snprintf(es, sizeof es, "patient004_frame%02d", p.es_frame);
  for (const std::string& base : {std::string("patient004_frame01"), std::string(es)}) {
    const PhantomFrame& f = base == "patient004_frame01" ? p.ed : p.es;
    const std::string img = (pd / (base + ".nii.gz")).string(), gt = (pd / (base + "_gt.nii.gz")).string();
    ASSERT_TRUE(fs::exists(img)) << img;
    ASSERT_TRUE(fs::exists(gt)) << gt;
    EXPECT_EQ(read_nifti_info(img).datatype, 4);  // int16
    EXPECT_EQ(read_nifti_info(gt).datatype, 2);   // uint8
    const Volume vi = read_nifti(img), vl = read_nifti(gt);
    EXPECT_EQ(vi.data, f.image.data);
    EXPECT_EQ(vl.data, f.label.data);
    EXPECT_NEAR(vi.dx, f.image.dx, 1e-5);
    EXPECT_NEAR(vi.dz, f.image.dz, 1e-5);
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) {
        EXPECT_NEAR(vi.sto_xyz[r][c], f.image.sto_xyz[r][c], 1e-3);
        EXPECT_NEAR(vi.qto_xyz[r][c], f.image.sto_xyz[r][c], 1e-3);  // qform agrees with sform
        EXPECT_NEAR(vl.sto_xyz[r][c], vi.sto_xyz[r][c], 1e-6);
      }
  }
  std::ifstream cfg(pd / "Info.cfg");
  std::stringstream ss;
  ss << cfg.rdbuf();
  EXPECT_EQ(ss.str(), phantom_info_cfg(p));
  EXPECT_NE(ss.str().find("ED: 1\n"), std::string::npos);
  EXPECT_NE(ss.str().find("Group: NOR\n"), std::string::npos);
  EXPECT_NE(ss.str().find("NbFrame: "), std::string::npos);
  fs::remove_all(dir);
}

TEST(Synth, CommandWritesTheDataset) {
  const fs::path dir = temp_dir("cli");
  const std::string cmd = std::string(CONTRASEG_BINARY) + " synth --out " + dir.string() +
                          " --patients 2 --seed 3 > " + (fs::temp_directory_path() / "contraseg_synth_cli.log").string();
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  for (const char* p : {"patient001", "patient002"}) {
    EXPECT_TRUE(fs::exists(dir / p / (std::string(p) + "_frame01.nii.gz")));
    EXPECT_TRUE(fs::exists(dir / p / (std::string(p) + "_frame01_gt.nii.gz")));
    EXPECT_TRUE(fs::exists(dir / p / "Info.cfg"));
  }
  EXPECT_FALSE(fs::exists(dir / "patient003"));
  const std::string bad = std::string(CONTRASEG_BINARY) + " synth --out " + dir.string() + " --seed x 2>/dev/null";
  EXPECT_NE(std::system(bad.c_str()), 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cs
