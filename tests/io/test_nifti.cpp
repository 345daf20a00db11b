// NIfTI reading against nibabel (fixtures written and read back by scripts/make_nifti_fixtures.py),
// geometry-preserving round trips, and clear errors on malformed files.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "io/formats/nifti.h"
#include "support/io_test_util.h"

namespace cs {
namespace {

using testing_io::fixture;
using testing_io::TempDir;

// Expects `fn` to throw std::runtime_error whose message names `path` and contains `what`.
template <typename Fn>
void expect_error(Fn fn, const std::string& path, const std::string& what) {
  try {
    fn();
    ADD_FAILURE() << "no exception for " << path;
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << "message does not name the file: " << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << "expected '" << what << "' in: " << msg;
  }
}

TEST(Nifti, EveryDatatypeAgreesWithNibabel) {
  const auto expected = testing_io::load_json(fixture("expected.json"));
  ASSERT_GE(expected["files"].size(), 10u);
  for (const auto& [name, e] : expected["files"].items()) {
    SCOPED_TRACE(name);
    const std::string path = fixture(name);
    const auto shape = e["shape"].get<std::vector<int>>();
    const auto& values = e["values"];
    const auto vols = read_nifti_all(path);
    ASSERT_EQ(vols.size(), values.size());
    for (size_t t = 0; t < vols.size(); ++t) {
      const Volume v = read_nifti(path, static_cast<int>(t));
      EXPECT_EQ(v.data, vols[t].data);
      ASSERT_EQ(v.nx, shape[0]);
      ASSERT_EQ(v.ny, shape[1]);
      ASSERT_EQ(v.nz, shape[2]);
      EXPECT_EQ(v.nt, shape.size() > 3 ? shape[3] : 1);
      EXPECT_EQ(v.datatype, e["datatype"].get<int>());
      const auto pix = e["pixdim"].get<std::vector<double>>();
      EXPECT_NEAR(v.dx, pix[0], 1e-6);
      EXPECT_NEAR(v.dy, pix[1], 1e-6);
      EXPECT_NEAR(v.dz, pix[2], 1e-6);
      EXPECT_EQ(v.qform_code, e["qform_code"].get<int>());
      EXPECT_EQ(v.sform_code, e["sform_code"].get<int>());
      for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 4; ++c) {
          if (v.sform_code > 0) {
            EXPECT_NEAR(v.sto_xyz[r][c], e["sform"][r][c].get<double>(), 1e-5) << r << "," << c;
          }
          if (v.qform_code > 0) {
            EXPECT_NEAR(v.qto_xyz[r][c], e["qform"][r][c].get<double>(), 1e-5) << r << "," << c;
          }
        }
      const auto want = values[t].get<std::vector<double>>();
      ASSERT_EQ(v.data.size(), want.size());
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(v.data[i], want[i], 1e-6 * std::max(1.0, std::fabs(want[i]))) << "voxel " << i;
    }
  }
}

TEST(Nifti, ScaledInt16AppliesSlopeAndInter) {
  // int16_scaled.nii stores slope 0.5, inter -10: every value is raw * 0.5 - 10, so x.5 or x.0
  const Volume v = read_nifti(fixture("int16_scaled.nii"));
  const NiftiInfo h = read_nifti_info(fixture("int16_scaled.nii"));
  EXPECT_DOUBLE_EQ(h.scl_slope, 0.5);
  EXPECT_DOUBLE_EQ(h.scl_inter, -10.0);
  bool any_half = false;
  for (float x : v.data) {
    EXPECT_EQ(std::fmod(std::fabs(x) * 2.f, 1.f), 0.f);
    any_half |= std::fmod(std::fabs(x), 1.f) == 0.5f;
  }
  EXPECT_TRUE(any_half);
}

TEST(Nifti, InfoMatchesHeader) {
  const NiftiInfo h = read_nifti_info(fixture("int16_4d.nii.gz"));
  EXPECT_EQ(h.version, 1);
  EXPECT_EQ(h.ndim, 4);
  EXPECT_EQ(h.dim[1], 5);
  EXPECT_EQ(h.dim[4], 2);
  EXPECT_EQ(h.datatype_name, "INT16");
  EXPECT_EQ(h.data_bytes, 5 * 4 * 3 * 2 * 2);
  EXPECT_EQ(read_nifti_info(fixture("nifti2_float32.nii.gz")).version, 2);
}

TEST(Nifti, FourthDimensionIndexOutOfRange) {
  const std::string p = fixture("int16_4d.nii.gz");
  EXPECT_NO_THROW(read_nifti(p, 1));
  expect_error([&] { read_nifti(p, 2); }, p, "out of range");
  expect_error([&] { read_nifti(p, -1); }, p, "out of range");
  expect_error([&] { read_nifti(fixture("float32.nii"), 1); }, fixture("float32.nii"), "out of range");
}

void expect_same_geometry(const Volume& a, const Volume& b) {
  EXPECT_EQ(a.nx, b.nx);
  EXPECT_EQ(a.ny, b.ny);
  EXPECT_EQ(a.nz, b.nz);
  EXPECT_FLOAT_EQ(a.dx, b.dx);
  EXPECT_FLOAT_EQ(a.dy, b.dy);
  EXPECT_FLOAT_EQ(a.dz, b.dz);
  EXPECT_EQ(a.qform_code, b.qform_code);
  EXPECT_EQ(a.sform_code, b.sform_code);
  EXPECT_NEAR(a.quatern_b, b.quatern_b, 1e-6);
  EXPECT_NEAR(a.quatern_c, b.quatern_c, 1e-6);
  EXPECT_NEAR(a.quatern_d, b.quatern_d, 1e-6);
  EXPECT_NEAR(a.qoffset_x, b.qoffset_x, 1e-5);
  EXPECT_NEAR(a.qoffset_y, b.qoffset_y, 1e-5);
  EXPECT_NEAR(a.qoffset_z, b.qoffset_z, 1e-5);
  EXPECT_EQ(a.qfac, b.qfac);
  EXPECT_EQ(a.xyz_units, b.xyz_units);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) {
      EXPECT_NEAR(a.sto_xyz[r][c], b.sto_xyz[r][c], 1e-5) << "sform " << r << "," << c;
      EXPECT_NEAR(a.qto_xyz[r][c], b.qto_xyz[r][c], 1e-5) << "qform " << r << "," << c;
    }
}

TEST(Nifti, RoundTripKeepsHeaderGeometry) {
  TempDir tmp;
  for (const char* name : {"int16_scaled.nii", "uint8.nii.gz", "int32_qform_only.nii.gz", "nifti2_float32.nii.gz"}) {
    SCOPED_TRACE(name);
    const Volume a = read_nifti(fixture(name));
    for (const char* ext : {".nii", ".nii.gz"}) {
      const std::string out = tmp / (std::string("rt") + ext);
      write_nifti_image(out, a);
      const Volume b = read_nifti(out);
      expect_same_geometry(a, b);
      EXPECT_EQ(b.datatype, 16);
      EXPECT_EQ(b.nifti_version, 1);
      EXPECT_EQ(a.data, b.data);
    }
  }
}

TEST(Nifti, RoundTripOfAVolumeMadeInMemory) {
  TempDir tmp;
  Volume a = testing_io::pattern_volume(7, 5, 3, 0.8f, 1.2f, 3.0f, 0.25f);
  // qform from the quaternion: a writer must use the quaternion, a reader derive qto_xyz from it
  a.quatern_b = 0.1;
  a.quatern_c = -0.2;
  a.quatern_d = 0.3;
  a.descrip = "pattern";
  write_nifti_image(tmp / "a.nii.gz", a);
  const Volume b = read_nifti(tmp / "a.nii.gz");
  EXPECT_EQ(a.data, b.data);
  EXPECT_EQ(b.descrip, "pattern");
  EXPECT_EQ(b.qform_code, 1);
  EXPECT_EQ(b.sform_code, 2);
  EXPECT_NEAR(b.sto_xyz[0][1], 0.125, 1e-7);
  EXPECT_NEAR(b.sto_xyz[1][3], 7.25, 1e-6);
  // the quaternion's rotation: qto_xyz columns have the voxel sizes as norms
  for (int c = 0; c < 3; ++c) {
    double n = 0;
    for (int r = 0; r < 3; ++r) n += b.qto_xyz[r][c] * b.qto_xyz[r][c];
    EXPECT_NEAR(std::sqrt(n), c == 0 ? 0.8 : c == 1 ? 1.2 : 3.0, 1e-5);
  }
  // a second write of what was read gives the same qform matrix
  write_nifti_image(tmp / "b.nii", b);
  expect_same_geometry(b, read_nifti(tmp / "b.nii"));
}

TEST(Nifti, LabelsWrittenAsUint8AndInt16) {
  TempDir tmp;
  Volume a = testing_io::pattern_volume(4, 3, 2, 1.f, 1.f, 2.f);
  for (float& x : a.data) x = std::fmod(x, 7.f);
  write_nifti_label(tmp / "l8.nii.gz", a);
  Volume b = read_nifti(tmp / "l8.nii.gz");
  EXPECT_EQ(b.datatype, 2);
  EXPECT_EQ(a.data, b.data);
  expect_same_geometry(a, b);
  a.data[3] = -300.f;
  EXPECT_THROW(write_nifti_label(tmp / "bad.nii.gz", a), std::invalid_argument);
  write_nifti_label(tmp / "l16.nii.gz", a, 4);
  b = read_nifti(tmp / "l16.nii.gz");
  EXPECT_EQ(b.datatype, 4);
  EXPECT_EQ(b.data[3], -300.f);
  EXPECT_THROW(write_nifti_label(tmp / "bad.nii.gz", a, 16), std::invalid_argument);
  EXPECT_FALSE(std::filesystem::exists(tmp / "bad.nii.gz"));
}

TEST(Nifti, WriteIsAtomicAndOverwrites) {
  TempDir tmp;
  Volume a = testing_io::pattern_volume(3, 3, 2, 1.f, 1.f, 1.f);
  write_nifti_image(tmp / "v.nii.gz", a);
  a.data[0] = 42.f;
  write_nifti_image(tmp / "v.nii.gz", a);
  EXPECT_EQ(read_nifti(tmp / "v.nii.gz").data[0], 42.f);
  // only the destination remains: no temporary file left behind
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
  // an unwritable destination is an error naming it, and leaves nothing behind
  const std::string missing_dir = tmp / "no/such/dir/v.nii.gz";
  expect_error([&] { write_nifti_image(missing_dir, a); }, missing_dir, "cannot create: No such file or directory");
  EXPECT_THROW(write_nifti_image(tmp / "v.txt", a), std::runtime_error);
  Volume bad = a;
  bad.data.pop_back();
  EXPECT_THROW(write_nifti_image(tmp / "w.nii", bad), std::invalid_argument);
}

// A destination that cannot be created reports the path and the system's reason, for images and
// labels alike, and leaves no temporary file behind. A regular file where a folder should be
// refuses creation even to root.
TEST(Nifti, WriteIntoAnUncreatableFolderNamesTheCause) {
  TempDir tmp;
  testing_io::write_text(tmp / "plain_file", "not a folder");
  const Volume a = testing_io::pattern_volume(3, 3, 2, 1.f, 1.f, 1.f);
  const std::string under_file = tmp / "plain_file/v.nii.gz";
  expect_error([&] { write_nifti_image(under_file, a); }, under_file, "cannot create: Not a directory");
  expect_error([&] { write_nifti_label(under_file, a); }, under_file, "cannot create: Not a directory");
  const std::string missing = tmp / "missing/l.nii";
  expect_error([&] { write_nifti_label(missing, a); }, missing, "cannot create: No such file or directory");
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);  // only plain_file
}

TEST(Nifti, MalformedFilesGiveClearErrors) {
  const std::pair<const char*, const char*> cases[] = {
      {"bad_truncated.nii", "truncated"},
      {"bad_truncated.nii.gz", "truncated"},
      {"bad_magic.nii", "magic"},
      {"bad_zero_bytes.nii", "empty"},
      {"bad_not_gzip.nii.gz", "not a NIfTI"},
      {"bad_absurd_dims.nii", "absurd"},
      {"bad_zero_dim.nii", "dim[2]"},
      {"bad_complex.nii", "COMPLEX64"},
      {"bad_rgb.nii", "RGB24"},
      {"bad_nan.nii.gz", "NaN"},
  };
  for (const auto& [name, what] : cases) {
    SCOPED_TRACE(name);
    const std::string p = fixture(name);
    expect_error([&] { read_nifti(p); }, p, what);
    expect_error([&] { read_nifti_all(p); }, p, what);
  }
  expect_error([&] { read_nifti(fixture("no_such_file.nii.gz")); }, fixture("no_such_file.nii.gz"), "no such file");
  expect_error([&] { read_nifti(fixture("expected.json")); }, fixture("expected.json"), "not a NIfTI file name");
}

TEST(Nifti, NanCountAndPositionReported) {
  try {
    read_nifti(fixture("bad_nan.nii.gz"));
    FAIL();
  } catch (const std::runtime_error& e) {
    // the fixture has NaN at (2, 1, 0) and +Inf at (4, 3, 2)
    EXPECT_NE(std::string(e.what()).find("2 NaN or infinite voxels (first at x=2 y=1 z=0)"), std::string::npos) << e.what();
  }
}

TEST(Nifti, EveryTruncationOfAGoodFileIsAnError) {
  // cut a good file at every length: each prefix must give an exception, never a crash or a volume
  TempDir tmp;
  const auto bytes = testing_io::read_bytes(fixture("float32.nii"));
  for (size_t n = 0; n < bytes.size(); n += 7) {
    const std::string p = tmp / "cut.nii";
    testing_io::write_bytes(p, std::vector<char>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)));
    EXPECT_THROW(read_nifti(p), std::runtime_error) << n << " bytes";
  }
}

TEST(Nifti, ByteSwappedHeaderFieldsAreValidated) {
  // a big-endian file with an absurd dim must be rejected like a little-endian one
  TempDir tmp;
  auto bytes = testing_io::read_bytes(fixture("int16_bigendian.nii"));
  ASSERT_GT(bytes.size(), 60u);
  const std::string p = tmp / "be.nii";
  auto absurd = bytes;
  absurd[42] = absurd[44] = absurd[46] = 0x7f;  // high bytes of dim[1..3] (big-endian): ~32500 each
  testing_io::write_bytes(p, absurd);
  expect_error([&] { read_nifti(p); }, p, "absurd");
  auto longer = bytes;
  longer[42] = 0x01;  // dim[1] = 0x0105 = 261: more data than the file holds
  testing_io::write_bytes(p, longer);
  expect_error([&] { read_nifti(p); }, p, "truncated");
}

}  // namespace
}  // namespace cs
