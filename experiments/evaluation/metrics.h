#pragma once
// Segmentation metrics on integer label volumes at native resolution (docs/method.md §7).
//
// Volumes are flat arrays in NIfTI order (x fastest, then y, then z) with dims (nx, ny, nz) and
// voxel spacing (dx, dy, dz) in mm.
//
// Empty-mask rule, per class c:
//  - Dice: 2|P∩G| / (|P|+|G|). If the class is absent from both prediction and ground truth the
//    Dice is NaN and is left out of every mean (sklearn's f1_score drops such classes too).
//  - HD95: the 95th percentile of the symmetric surface distances, in mm. NaN when either mask is
//    empty (the distance is undefined), and left out of means.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/volume.h"

namespace cs {

struct Grid3 {
  int nx = 0, ny = 0, nz = 0;
  double dx = 1, dy = 1, dz = 1;
  int64_t size() const { return static_cast<int64_t>(nx) * ny * nz; }
};

// Dice per class 0..num_classes-1 (NaN where the class is absent from both).
std::vector<double> dice_per_class(const std::vector<uint8_t>& pred, const std::vector<uint8_t>& gt,
                                   int num_classes);
// HD95 in mm per class (NaN where either mask is empty).
std::vector<double> hd95_per_class(const std::vector<uint8_t>& pred, const std::vector<uint8_t>& gt,
                                   const Grid3& grid, int num_classes);
// Mean of the non-NaN entries of v[first..]; NaN if there are none.
double nanmean(const std::vector<double>& v, size_t first = 0);

// A label volume's voxels as class indices (validated to be integers in [0, num_classes)).
std::vector<uint8_t> label_values(const Volume& v, int num_classes, const std::string& what);

struct CaseMetrics {
  std::string id;
  std::vector<double> dice;  // per class, NaN where absent from both
  std::vector<double> hd95;  // per class, mm, NaN where undefined
  double foreground_dice = 0, foreground_hd95 = 0;
};
CaseMetrics case_metrics(const std::string& id, const Volume& pred, const Volume& gt, int num_classes,
                         bool with_hd95);

}  // namespace cs
