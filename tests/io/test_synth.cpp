// The synthetic cardiac phantom: anatomy as labelled, geometry, determinism, files on disk.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <map>
#include <sstream>
#include <string>
#include <tuple>

#include <unistd.h>

#include "io/formats/nifti.h"
#include "io/synth/synth.h"
#include "support/io_test_util.h"
#include "support/range_test_util.h"

namespace cs {
namespace {

namespace fs = std::filesystem;
using testing_range::in_range;

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
  // patient, patients, its group
  const std::tuple<int, int, std::string> groups[] = {{1, 100, "DCM"},  {20, 100, "DCM"}, {21, 100, "HCM"},
                                                      {61, 100, "NOR"}, {100, 100, "RV"}, {3, 5, "MINF"}};
  for (const auto& [id, patients, group] : groups)
    EXPECT_EQ(phantom_group(id, patients), group) << id << "/" << patients;
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
        ASSERT_TRUE(in_range(v, 0.f, 32767.f));
      }
    }
    const Volume& lb = p.ed.label;
    EXPECT_GT(count_in_slice(lb, 0, 1), 0) << "RV at the base, patient " << id;
    EXPECT_EQ(count_in_slice(lb, lb.nz - 1, 1), 0) << "no RV at the apex, patient " << id;
    EXPECT_GT(count_in_slice(lb, lb.nz - 1, 2), 0) << "myocardium at the apex, patient " << id;
    // Acquisition ranges.
    const Volume& im = p.ed.image;
    EXPECT_TRUE(in_range(im.dx, 1.2f, 1.9f));
    EXPECT_TRUE(in_range(im.dz, 5.f, 10.f));
    EXPECT_TRUE(in_range(im.nz, 6, 12));
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

// ---- acquisition and storage options (2 patients each, as a small dataset would have)

// Writes patients 1 and 2 of seed 11 with acquisition `a` into DIR and reads the frames back.
struct ReadBack {
  Volume image, label;
};
std::vector<ReadBack> write_and_read(const testing_io::TempDir& dir, const PhantomAcquisition& a) {
  PhantomOptions o;
  o.patients = 2;
  o.seed = 11;
  o.acq = a;
  std::vector<ReadBack> out;
  for (int id = 1; id <= 2; ++id) {
    const PhantomPatient p = make_phantom_patient(id, o);
    write_phantom_patient(dir.path(), p);
    const std::string base = dir / (phantom_patient_name(id) + "/" + phantom_patient_name(id) + "_frame01");
    out.push_back({read_nifti(base + ".nii.gz"), read_nifti(base + "_gt.nii.gz")});
    EXPECT_EQ(out.back().image.data, p.ed.image.data) << "patient " << id;  // the frame is what a reader gets
  }
  return out;
}

// World (scanner mm, through the sform) centroid and voxel count of each label.
struct LabelStats {
  double c[4][3] = {};
  int64_t n[4] = {};
};
LabelStats label_stats(const Volume& lab) {
  LabelStats s;
  for (int k = 0; k < lab.nz; ++k)
    for (int j = 0; j < lab.ny; ++j)
      for (int i = 0; i < lab.nx; ++i) {
        const int l = static_cast<int>(lab.at(i, j, k));
        ++s.n[l];
        for (int r = 0; r < 3; ++r)
          s.c[l][r] += lab.sto_xyz[r][0] * i + lab.sto_xyz[r][1] * j + lab.sto_xyz[r][2] * k + lab.sto_xyz[r][3];
      }
  for (int l = 0; l < 4; ++l)
    for (int r = 0; r < 3; ++r) s.c[l][r] /= static_cast<double>(std::max<int64_t>(1, s.n[l]));
  return s;
}

TEST(Synth, StorageOptionsKeepEveryLabelAtItsWorldPosition) {
  testing_io::TempDir plain_dir, moved_dir;
  PhantomAcquisition moved;
  moved.transpose = true;
  moved.flip_x = true;
  moved.slice_order = PhantomAcquisition::SliceOrder::ApexToBase;
  const auto plain = write_and_read(plain_dir, PhantomAcquisition());
  const auto other = write_and_read(moved_dir, moved);
  for (size_t p = 0; p < plain.size(); ++p) {
    const Volume &a = plain[p].label, &b = other[p].label;
    EXPECT_EQ(b.nx, a.ny);  // transposed
    EXPECT_EQ(b.ny, a.nx);
    EXPECT_EQ(b.nz, a.nz);
    EXPECT_EQ(a.qfac, 1);
    EXPECT_EQ(b.qfac, -1);  // a swap and two flips: left-handed
    // The storage did change: the base (with RV) is now the last slice.
    EXPECT_GT(count_in_slice(a, 0, 1), 0);
    EXPECT_EQ(count_in_slice(b, 0, 1), 0);
    for (const Volume* v : {&a, &b, &plain[p].image, &other[p].image})
      for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 4; ++c) EXPECT_NEAR(v->qto_xyz[r][c], v->sto_xyz[r][c], 1e-3) << "qform vs sform";
    const LabelStats sa = label_stats(a), sb = label_stats(b);
    for (int l = 0; l < 4; ++l) {
      EXPECT_EQ(sa.n[l], sb.n[l]) << "label " << l << ", patient " << p + 1;
      for (int r = 0; r < 3; ++r) EXPECT_NEAR(sa.c[l][r], sb.c[l][r], 1e-3) << "label " << l << ", patient " << p + 1;
    }
  }
}

TEST(Synth, ScaledInt16ReadsBackAsTheUnscaledIntensities) {
  testing_io::TempDir plain_dir, scaled_dir;
  PhantomAcquisition a;
  a.gain_lo = 150, a.gain_hi = 300;  // intensities well below 32767 * slope + inter: no clipping
  const auto plain = write_and_read(plain_dir, a);
  a.scl_slope = 0.37;
  a.scl_inter = -12.5;
  const auto scaled = write_and_read(scaled_dir, a);
  const std::string f = scaled_dir / "patient001/patient001_frame01.nii.gz";
  const NiftiInfo info = read_nifti_info(f);
  EXPECT_EQ(info.datatype, 4);  // int16
  EXPECT_FLOAT_EQ(info.scl_slope, 0.37f);
  EXPECT_FLOAT_EQ(info.scl_inter, -12.5f);
  EXPECT_EQ(read_nifti_info(scaled_dir / "patient001/patient001_frame01_gt.nii.gz").scl_slope, 0);  // labels unscaled
  for (size_t p = 0; p < plain.size(); ++p) {
    const Volume &u = plain[p].image, &s = scaled[p].image;
    ASSERT_EQ(u.data.size(), s.data.size());
    double worst = 0;
    for (size_t i = 0; i < u.data.size(); ++i) worst = std::max(worst, std::fabs(double(s.data[i]) - u.data[i]));
    EXPECT_LE(worst, 0.37 / 2 + 1e-3) << "patient " << p + 1;
    EXPECT_GT(worst, 0.01) << "patient " << p + 1 << ": the scaled values should not be the integers";
    EXPECT_EQ(plain[p].label.data, scaled[p].label.data);
  }
}

TEST(Synth, CommandHonoursPixelAndSliceRanges) {
  testing_io::TempDir dir;
  const auto r = testing_io::run_contraseg("synth --out " + dir.path() +
                                           " --patients 2 --threads 2 --pixel 0.7:0.9 --slices 14:16");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* p : {"patient001", "patient002"}) {
    const NiftiInfo info = read_nifti_info(dir / (std::string(p) + "/" + p + "_frame01.nii.gz"));
    EXPECT_TRUE(in_range(info.pixdim[1], 0.7 - 1e-6, 0.9 + 1e-6)) << p;
    EXPECT_GT(info.dim[1], 256) << p;
    EXPECT_GT(info.dim[2], 256) << p;
    EXPECT_TRUE(in_range(info.dim[3], 14, 16)) << p;
  }
}

TEST(Synth, CommandRejectsBadAcquisitionOptionsBeforeWriting) {
  testing_io::TempDir tmp;
  const std::string out = tmp / "never";
  const std::pair<const char*, const char*> bad[] = {
      {"--pixel 1.9:1.2", "--pixel"},  {"--pixel 0:1", "--pixel"},         {"--fov 300", ""},
      {"--slices 1:4", "--slices"},    {"--slices 6:x", "--slices"},       {"--slice-order up", "--slice-order"},
      {"--scl-slope 0", "--scl-slope"}, {"--spacing 10:5", "--spacing"},   {"--gain -5:10", "--gain"}};
  for (const auto& [args, name] : bad) {
    const auto r = testing_io::run_contraseg("synth --out " + out + " --patients 2 " + args);
    if (std::string(name).empty()) {  // a good value, as a control
      EXPECT_EQ(r.status, 0) << args << ": " << r.err;
      fs::remove_all(out);
      continue;
    }
    EXPECT_NE(r.status, 0) << args;
    EXPECT_NE(r.err.find(name), std::string::npos) << args << ": " << r.err;
    const std::string value = std::string(args).substr(std::string(args).find(' ') + 1);
    EXPECT_NE(r.err.find("'" + value + "'"), std::string::npos) << args << ": " << r.err;
    EXPECT_FALSE(fs::exists(out)) << args;
  }
}

}  // namespace
}  // namespace cs
