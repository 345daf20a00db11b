// A voxel size of 0, NaN or infinity in pixdim: taken from the sform when the file has one, an
// error naming the file otherwise (the NIfTI library alone reads it as 1 mm), and outputs written
// from such a volume carry a pixdim that agrees with their sform and qform.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "io/formats/nifti.h"
#include "support/io_test_util.h"

namespace cs {
namespace {

using testing_io::read_bytes;
using testing_io::TempDir;
using testing_io::write_bytes;

// NIfTI-1 header offsets.
constexpr size_t kPixdim = 76, kSformCode = 254;

// An uncompressed file of a 4x3x2 volume with voxel size 1.5 x 2 x 3 mm, qform (identity
// rotation) and sform, then `pixdim[axis]` set to `value` and the sform code to `sform_code`.
std::string file_with_pixdim(const TempDir& tmp, int axis, float value, int16_t sform_code = 1) {
  Volume v = make_volume(4, 3, 2, 1.5f, 2.f, 3.f);
  for (size_t i = 0; i < v.data.size(); ++i) v.data[i] = static_cast<float>(i);
  v.sto_xyz[0][3] = v.qto_xyz[0][3] = v.qoffset_x = -10;
  const std::string path = tmp / "spacing.nii";
  write_nifti_image(path, v);
  auto b = read_bytes(path);
  std::memcpy(b.data() + kPixdim + 4 * axis, &value, 4);
  std::memcpy(b.data() + kSformCode, &sform_code, 2);
  write_bytes(path, b);
  return path;
}

TEST(NiftiSpacing, ZeroOrNonFinitePixdimIsTakenFromTheSform) {
  TempDir tmp;
  for (const float bad : {0.f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    SCOPED_TRACE(bad);
    const std::string p = file_with_pixdim(tmp, 1, bad);
    const Volume v = read_nifti(p);
    EXPECT_FLOAT_EQ(v.dx, 1.5f);  // the length of the sform's first column, not 1
    EXPECT_FLOAT_EQ(v.dy, 2.f);
    EXPECT_FLOAT_EQ(v.dz, 3.f);
    // The qform is derived with that size too, so it agrees with the sform.
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) EXPECT_NEAR(v.qto_xyz[r][c], v.sto_xyz[r][c], 1e-6) << r << "," << c;
    // `info` shows the header as it is.
    const NiftiInfo info = read_nifti_info(p);
    EXPECT_EQ(std::isnan(bad) ? std::isnan(info.pixdim[1]) : info.pixdim[1] == bad, true) << info.pixdim[1];
  }
}

TEST(NiftiSpacing, ZeroPixdimWithoutAnSformIsAnErrorNamingTheFile) {
  TempDir tmp;
  for (const int axis : {1, 3}) {
    const std::string p = file_with_pixdim(tmp, axis, 0.f, 0);
    try {
      read_nifti(p);
      ADD_FAILURE() << "read as if pixdim[" << axis << "] were given";
    } catch (const std::runtime_error& e) {
      const std::string m = e.what();
      EXPECT_EQ(m.rfind(p + ": pixdim[" + std::to_string(axis) + "] (the voxel size along " + "xyz"[axis - 1] +
                            ") is 0.000000 and the file has no sform to take it from; set the voxel size in the "
                            "header",
                        0),
                0u)
          << m;
    }
  }
  const std::string nan = file_with_pixdim(tmp, 2, std::numeric_limits<float>::quiet_NaN(), 0);
  EXPECT_THROW(read_nifti(nan), std::runtime_error);
  EXPECT_NO_THROW(read_nifti_info(nan));  // the header summary still describes the file
}

TEST(NiftiSpacing, AnOutputOfSuchAVolumeAgreesWithItself) {
  TempDir tmp;
  const Volume in = read_nifti(file_with_pixdim(tmp, 2, 0.f));
  const std::string out = tmp / "labels.nii.gz";
  write_nifti_label(out, same_geometry(in, std::vector<float>(in.size(), 1.f)));
  const NiftiInfo h = read_nifti_info(out);
  for (int i = 1; i <= 3; ++i) {
    const double column = std::sqrt(h.sto_xyz[0][i - 1] * h.sto_xyz[0][i - 1] + h.sto_xyz[1][i - 1] * h.sto_xyz[1][i - 1] +
                                    h.sto_xyz[2][i - 1] * h.sto_xyz[2][i - 1]);
    EXPECT_NEAR(h.pixdim[i], column, 1e-6) << "pixdim[" << i << "]";
  }
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) EXPECT_NEAR(h.qto_xyz[r][c], h.sto_xyz[r][c], 1e-6) << r << "," << c;
}

TEST(NiftiSpacing, AGoodPixdimIsKeptAsItIs) {
  TempDir tmp;
  // A negative pixdim is its size (the library's reading); the sform does not override a valid one.
  const std::string p = file_with_pixdim(tmp, 1, -1.25f);
  const Volume v = read_nifti(p);
  EXPECT_FLOAT_EQ(v.dx, 1.25f);
  EXPECT_FLOAT_EQ(v.sto_xyz[0][0], 1.5f);
}

}  // namespace
}  // namespace cs
