#include "io/datasets/itk/n4_itk.h"

#include <algorithm>
#include <stdexcept>

#include <itkConfigure.h>
#include <itkImage.h>
#include <itkN4BiasFieldCorrectionImageFilter.h>

namespace cs {

std::vector<float> itk_n4_correct(const float* voxels, const N4Grid& g, const N4Params& p) {
  // SimpleITK's N4 on a float32 image: N4BiasFieldCorrectionImageFilter<Image<float>,
  // Image<uint8_t>, Image<float>>, its mask left unset when none is given.
  using Image = itk::Image<float, 3>;
  using Mask = itk::Image<unsigned char, 3>;
  using Filter = itk::N4BiasFieldCorrectionImageFilter<Image, Mask, Image>;
  try {
    auto image = Image::New();
    Image::SizeType size;
    Image::SpacingType spacing;
    Image::PointType origin;
    Image::DirectionType direction;
    for (int i = 0; i < 3; ++i) {
      size[i] = static_cast<itk::SizeValueType>(g.size[i]);
      spacing[i] = g.spacing[i];
      origin[i] = g.origin[i];
      for (int j = 0; j < 3; ++j) direction(i, j) = g.direction[i][j];
    }
    image->SetRegions(Image::RegionType(size));
    image->SetSpacing(spacing);
    image->SetOrigin(origin);
    image->SetDirection(direction);
    image->Allocate();
    const size_t n = static_cast<size_t>(g.size[0]) * g.size[1] * g.size[2];
    std::copy(voxels, voxels + n, image->GetBufferPointer());  // both x fastest

    auto filter = Filter::New();
    filter->SetInput(image);
    filter->SetConvergenceThreshold(static_cast<float>(p.convergence_threshold));
    // As SimpleITK does: one iteration count per level, and as many levels as counts.
    Filter::VariableSizeArrayType iterations(static_cast<unsigned>(p.iterations.size()));
    for (size_t i = 0; i < p.iterations.size(); ++i)
      iterations[static_cast<unsigned>(i)] = static_cast<unsigned>(p.iterations[i]);
    filter->SetMaximumNumberOfIterations(iterations);
    Filter::ArrayType levels, control_points;
    levels.Fill(static_cast<unsigned>(p.iterations.size()));
    control_points.Fill(static_cast<unsigned>(p.control_points));
    filter->SetNumberOfFittingLevels(levels);
    filter->SetNumberOfControlPoints(control_points);
    filter->SetSplineOrder(static_cast<unsigned>(p.spline_order));
    filter->SetNumberOfHistogramBins(static_cast<unsigned>(p.histogram_bins));
    filter->SetBiasFieldFullWidthAtHalfMaximum(static_cast<float>(p.fwhm));
    filter->SetWienerFilterNoise(static_cast<float>(p.wiener_noise));
    filter->Update();

    const Image* out = filter->GetOutput();
    if (out->GetBufferedRegion().GetNumberOfPixels() != n)
      throw std::runtime_error("ITK's N4 returned another size than its input's");
    return std::vector<float>(out->GetBufferPointer(), out->GetBufferPointer() + n);
  } catch (const itk::ExceptionObject& e) {
    throw std::runtime_error(std::string("ITK's N4 failed: ") + e.GetDescription());
  }
}

std::string itk_version() {
  return std::to_string(ITK_VERSION_MAJOR) + "." + std::to_string(ITK_VERSION_MINOR) + "." +
         std::to_string(ITK_VERSION_PATCH);
}

}  // namespace cs
