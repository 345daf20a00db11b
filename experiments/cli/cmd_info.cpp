// `contraseg info FILE...`: what each NIfTI header says (dims, datatype, voxel size, qform and
// sform codes, the voxel-to-world matrix) and the intensity range of the data. A file that cannot
// be read is reported on stderr in one line; the others are still shown; the exit status is 1 if
// any file failed.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <limits>
#include <string>

#include "experiments/cli/cli.h"
#include "io/formats/nifti.h"

namespace cs {
namespace {

const char* xform_name(int code) {
  switch (code) {
    case 0: return "unknown";
    case 1: return "scanner";
    case 2: return "aligned";
    case 3: return "talairach";
    case 4: return "mni152";
    case 5: return "template";
    default: return "invalid";
  }
}

void show(const std::string& path) {
  const NiftiInfo h = read_nifti_info(path);
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (const Volume& v : read_nifti_all(path))
    for (float x : v.data) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  std::printf("%s\n", path.c_str());
  std::printf("  format      NIfTI-%d\n", h.version);
  std::printf("  dims       ");
  for (int i = 1; i <= h.ndim; ++i) std::printf(" %s%lld", i > 1 ? "x " : "", static_cast<long long>(h.dim[i]));
  std::printf("\n  datatype    %s (%d)\n", h.datatype_name.c_str(), h.datatype);
  std::printf("  pixdim     ");
  for (int i = 1; i <= std::min(h.ndim, 4); ++i) std::printf(" %g", h.pixdim[i]);
  std::printf("\n  qform_code  %d (%s)\n", h.qform_code, xform_name(h.qform_code));
  std::printf("  sform_code  %d (%s)\n", h.sform_code, xform_name(h.sform_code));
  const bool use_s = h.sform_code > 0;
  const auto& m = use_s ? h.sto_xyz : h.qto_xyz;
  std::printf("  %s      ", use_s ? "sform" : "qform");
  for (int r = 0; r < 4; ++r)
    std::printf("%s[%12.6g %12.6g %12.6g %12.6g]\n", r ? "              " : "", m[r][0], m[r][1], m[r][2], m[r][3]);
  if (h.scl_slope != 0) std::printf("  scaling     slope %g inter %g\n", h.scl_slope, h.scl_inter);
  std::printf("  intensity   min %g max %g\n", lo, hi);
}

CommandSpec info_spec() {
  CommandSpec s{"info", "show NIfTI headers and intensity ranges", "contraseg info FILE.nii[.gz]...",
                "Shows each NIfTI file's dims, datatype, voxel size, qform/sform codes, the sform matrix\n"
                "(the qform matrix when sform_code is 0) and the intensity range. Exit status 1 if any\n"
                "file could not be read.\n",
                {}};
  s.positional = "FILE...";
  return s;
}

int cmd_info(const Args& args) {
  if (args.positional().empty()) {
    std::printf("%s", help_text(args.spec()).c_str());
    return 2;
  }
  int failed = 0;
  for (const std::string& path : args.positional()) {
    try {
      show(path);
    } catch (const std::exception& e) {
      std::fflush(stdout);
      const std::string msg = e.what();
      // reader errors already start with the path; anything else gets it prepended
      if (msg.rfind(path, 0) == 0)
        std::fprintf(stderr, "contraseg info: %s\n", msg.c_str());
      else
        std::fprintf(stderr, "contraseg info: %s: %s\n", path.c_str(), msg.c_str());
      ++failed;
    }
    std::fflush(stdout);
  }
  return failed ? 1 : 0;
}

}  // namespace

CS_COMMAND(info_spec(), cmd_info);

}  // namespace cs
