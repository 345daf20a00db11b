// `contraseg info`: good files are shown, bad ones reported on stderr (one line each, naming the
// file), and the exit status says whether any failed.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "support/io_test_util.h"

namespace cs {
namespace {

using testing_io::fixture;
using testing_io::run_contraseg;

std::string q(const std::string& s) { return "'" + s + "'"; }

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST(InfoCommand, GoodFilesShowHeaderAndRange) {
  const auto r = run_contraseg("info " + q(fixture("uint8.nii.gz")) + " " + q(fixture("int32_qform_only.nii.gz")));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  EXPECT_NE(r.out.find(fixture("uint8.nii.gz")), std::string::npos);
  EXPECT_NE(r.out.find("UINT8"), std::string::npos);
  EXPECT_NE(r.out.find("5 x 4 x 3"), std::string::npos);
  EXPECT_NE(r.out.find("sform_code  2"), std::string::npos);
  // the second file has sform_code 0, so its qform matrix is shown
  EXPECT_NE(r.out.find("qform      ["), std::string::npos);
  // intensity range of uint8.nii.gz, from the nibabel-written expected values
  const auto e = testing_io::load_json(fixture("expected.json"))["files"]["uint8.nii.gz"]["values"][0];
  double lo = 1e9, hi = -1e9;
  for (const auto& v : e) {
    lo = std::min(lo, v.get<double>());
    hi = std::max(hi, v.get<double>());
  }
  std::ostringstream want;
  want << "min " << lo << " max " << hi;
  EXPECT_NE(r.out.find(want.str()), std::string::npos) << r.out;
}

TEST(InfoCommand, BadFilesReportedAndOthersStillShown) {
  const char* bad[] = {"bad_truncated.nii", "bad_magic.nii", "bad_absurd_dims.nii", "bad_zero_bytes.nii",
                       "bad_complex.nii", "bad_nan.nii.gz", "bad_truncated.nii.gz"};
  std::string args = "info " + q(fixture("float32.nii"));
  for (const char* b : bad) args += " " + q(fixture(b));
  args += " " + q(fixture("int16_4d.nii.gz"));
  const auto r = run_contraseg(args);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find(fixture("float32.nii")), std::string::npos);
  EXPECT_NE(r.out.find(fixture("int16_4d.nii.gz")), std::string::npos);  // after the bad ones
  EXPECT_NE(r.out.find("5 x 4 x 3 x 2"), std::string::npos);
  EXPECT_EQ(count_lines(r.err), static_cast<int>(std::size(bad))) << r.err;
  for (const char* b : bad) {
    EXPECT_NE(r.err.find(fixture(b)), std::string::npos) << b;
    EXPECT_EQ(r.out.find(fixture(b)), std::string::npos) << b;
  }
}

TEST(InfoCommand, NoFileIsAUsageError) {
  const auto r = run_contraseg("info");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("usage"), std::string::npos);
}

}  // namespace
}  // namespace cs
