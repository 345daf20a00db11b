// libFuzzer entry point for the NIfTI reader: the input bytes become a .nii file (or .nii.gz when
// they start with the gzip magic), which is read with every entry point; readable volumes are
// also written back and re-read. Only std::exception is an acceptable outcome for bad bytes:
// anything else (a crash, a sanitizer report, a leak, an uncaught throw) is a finding.
// Built and run by scripts/fuzz-nifti.sh.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

#include "io/formats/nifti.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string base = fuzz::input_path("nifti_fuzz");
  const bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  const std::string in = base + (gz ? ".nii.gz" : ".nii");
  const std::string out = base + "_out.nii.gz";
  if (!fuzz::write_file(in, data, size)) return 0;
  try {
    const cs::NiftiInfo info = cs::read_nifti_info(in);
    const auto volumes = cs::read_nifti_all(in);
    const cs::Volume& v = volumes.front();
    if (v.size() <= 4096) {
      cs::write_nifti_image(out, v);
      const cs::Volume back = cs::read_nifti(out);
      if (back.size() != v.size()) __builtin_trap();  // a round trip that loses voxels is a bug
    }
    (void)info;
  } catch (const std::exception&) {
  }
  std::remove(in.c_str());
  std::remove(out.c_str());
  return 0;
}
