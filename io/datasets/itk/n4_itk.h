#pragma once
// The one translation unit that includes ITK's headers (n4_itk.cpp, its own library): callers
// see plain arrays only. io/datasets/n4.h checks the inputs and is what the rest of the program
// calls.
#include <string>
#include <vector>

#include "io/datasets/n4.h"

namespace cs {

// ITK's N4BiasFieldCorrectionImageFilter<float image, uint8 mask, float image> on `voxels` (x
// fastest, g.size[0] * g.size[1] * g.size[2] values) with no mask: the corrected voxels, input /
// exp(log bias field) at full resolution. Throws std::runtime_error with ITK's message on failure.
std::vector<float> itk_n4_correct(const float* voxels, const N4Grid& g, const N4Params& p);

// ITK_VERSION_STRING with its patch level ("5.2.1").
std::string itk_version();

}  // namespace cs
