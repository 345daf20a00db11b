#include "experiments/evaluation/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace cs {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

void check_sizes(const std::vector<uint8_t>& pred, const std::vector<uint8_t>& gt, int num_classes) {
  if (pred.size() != gt.size())
    throw std::invalid_argument("metrics: prediction has " + std::to_string(pred.size()) +
                                " voxels, ground truth " + std::to_string(gt.size()));
  if (num_classes < 1 || num_classes > 255) throw std::invalid_argument("metrics: bad class count");
}

// 1D squared distance transform of sampled function f (Felzenszwalb & Huttenlocher), with
// sample spacing h: d[i] = min_j f[j] + (h*(i-j))^2.
void edt_1d(const double* f, double* d, int n, double h, std::vector<int>& v, std::vector<double>& z) {
  v.assign(n, 0);
  z.assign(n + 1, 0.0);
  int k = 0;
  int first = -1;
  for (int q = 0; q < n; ++q)
    if (f[q] < kInf) {
      first = q;
      break;
    }
  if (first < 0) {
    for (int q = 0; q < n; ++q) d[q] = kInf;
    return;
  }
  v[0] = first;
  z[0] = -kInf;
  z[1] = kInf;
  const double h2 = h * h;
  for (int q = first + 1; q < n; ++q) {
    if (f[q] == kInf) continue;
    double s;
    while (true) {
      const int p = v[k];
      s = ((f[q] + h2 * q * q) - (f[p] + h2 * p * p)) / (2.0 * h2 * (q - p));
      if (s <= z[k] && k > 0) {
        --k;
        continue;
      }
      break;
    }
    ++k;
    v[k] = q;
    z[k] = s;
    z[k + 1] = kInf;
  }
  k = 0;
  for (int q = 0; q < n; ++q) {
    while (z[k + 1] < q) ++k;
    const double t = h * (q - v[k]);
    d[q] = t * t + f[v[k]];
  }
}

// Squared Euclidean distance (mm^2) from every voxel to the nearest voxel with mask = 1.
std::vector<double> squared_edt(const std::vector<uint8_t>& mask, const Grid3& g) {
  const int64_t n = g.size();
  std::vector<double> d(n);
  for (int64_t i = 0; i < n; ++i) d[i] = mask[i] ? 0.0 : kInf;
  const int dims[3] = {g.nx, g.ny, g.nz};
  const double sp[3] = {g.dx, g.dy, g.dz};
  const int64_t stride[3] = {1, g.nx, static_cast<int64_t>(g.nx) * g.ny};
  for (int axis = 0; axis < 3; ++axis) {
    const int len = dims[axis];
    std::vector<double> f(len), out(len), z;
    std::vector<int> v;
    // Iterate over all lines along `axis`.
    for (int64_t base = 0; base < n; ++base) {
      const int64_t coord = (base / stride[axis]) % len;
      if (coord != 0) continue;
      for (int i = 0; i < len; ++i) f[i] = d[base + i * stride[axis]];
      edt_1d(f.data(), out.data(), len, sp[axis], v, z);
      for (int i = 0; i < len; ++i) d[base + i * stride[axis]] = out[i];
    }
  }
  return d;
}

// Surface voxels: in the mask with at least one 6-neighbour outside it (or on the volume border).
std::vector<uint8_t> surface(const std::vector<uint8_t>& mask, const Grid3& g) {
  std::vector<uint8_t> s(mask.size(), 0);
  for (int z = 0; z < g.nz; ++z)
    for (int y = 0; y < g.ny; ++y)
      for (int x = 0; x < g.nx; ++x) {
        const int64_t i = x + static_cast<int64_t>(g.nx) * (y + static_cast<int64_t>(g.ny) * z);
        if (!mask[i]) continue;
        auto out = [&](int xx, int yy, int zz) {
          if (xx < 0 || yy < 0 || zz < 0 || xx >= g.nx || yy >= g.ny || zz >= g.nz) return true;
          return !mask[xx + static_cast<int64_t>(g.nx) * (yy + static_cast<int64_t>(g.ny) * zz)];
        };
        if (out(x - 1, y, z) || out(x + 1, y, z) || out(x, y - 1, z) || out(x, y + 1, z) ||
            out(x, y, z - 1) || out(x, y, z + 1))
          s[i] = 1;
      }
  return s;
}

double percentile95(std::vector<double> v) {
  // Linear interpolation between closest ranks (numpy's default).
  std::sort(v.begin(), v.end());
  const double pos = 0.95 * (v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}

}  // namespace

std::vector<double> dice_per_class(const std::vector<uint8_t>& pred, const std::vector<uint8_t>& gt,
                                   int num_classes) {
  check_sizes(pred, gt, num_classes);
  std::vector<int64_t> tp(num_classes, 0), np(num_classes, 0), ng(num_classes, 0);
  for (size_t i = 0; i < pred.size(); ++i) {
    if (pred[i] >= num_classes || gt[i] >= num_classes)
      throw std::invalid_argument("metrics: label value " + std::to_string(std::max(pred[i], gt[i])) +
                                  " outside 0.." + std::to_string(num_classes - 1));
    np[pred[i]]++;
    ng[gt[i]]++;
    if (pred[i] == gt[i]) tp[gt[i]]++;
  }
  std::vector<double> d(num_classes);
  for (int c = 0; c < num_classes; ++c)
    d[c] = (np[c] + ng[c] == 0) ? kNaN : 2.0 * tp[c] / static_cast<double>(np[c] + ng[c]);
  return d;
}

std::vector<double> hd95_per_class(const std::vector<uint8_t>& pred, const std::vector<uint8_t>& gt,
                                   const Grid3& grid, int num_classes) {
  check_sizes(pred, gt, num_classes);
  if (grid.size() != static_cast<int64_t>(gt.size()))
    throw std::invalid_argument("metrics: grid does not match the volume size");
  std::vector<double> out(num_classes, kNaN);
  for (int c = 0; c < num_classes; ++c) {
    // The box around both masks holds every surface voxel and every nearest surface voxel, so the
    // distances computed inside it are exact; outside it a voxel is in neither mask, and so its
    // surfaces are the same as in the whole volume. A structure is a small part of a volume.
    int lo[3] = {grid.nx, grid.ny, grid.nz}, hi[3] = {-1, -1, -1};
    bool any_p = false, any_g = false;
    for (int z = 0, i = 0; z < grid.nz; ++z)
      for (int y = 0; y < grid.ny; ++y)
        for (int x = 0; x < grid.nx; ++x, ++i) {
          const bool p = pred[i] == c, g = gt[i] == c;
          any_p |= p;
          any_g |= g;
          if (!p && !g) continue;
          const int at[3] = {x, y, z};
          for (int a = 0; a < 3; ++a) lo[a] = std::min(lo[a], at[a]), hi[a] = std::max(hi[a], at[a]);
        }
    if (!any_p || !any_g) continue;
    const Grid3 box{hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1, grid.dx, grid.dy, grid.dz};
    std::vector<uint8_t> mp(box.size()), mg(box.size());
    for (int z = 0, j = 0; z < box.nz; ++z)
      for (int y = 0; y < box.ny; ++y)
        for (int x = 0; x < box.nx; ++x, ++j) {
          const int64_t i = (lo[0] + x) + static_cast<int64_t>(grid.nx) * ((lo[1] + y) + static_cast<int64_t>(grid.ny) * (lo[2] + z));
          mp[j] = pred[i] == c;
          mg[j] = gt[i] == c;
        }
    const auto sp = surface(mp, box), sg = surface(mg, box);
    const auto dp = squared_edt(sp, box), dg = squared_edt(sg, box);
    std::vector<double> dists;
    for (size_t i = 0; i < sp.size(); ++i) {
      if (sp[i]) dists.push_back(std::sqrt(dg[i]));
      if (sg[i]) dists.push_back(std::sqrt(dp[i]));
    }
    out[c] = percentile95(std::move(dists));
  }
  return out;
}

double nanmean(const std::vector<double>& v, size_t first) {
  double s = 0;
  int n = 0;
  for (size_t i = first; i < v.size(); ++i)
    if (!std::isnan(v[i])) {
      s += v[i];
      ++n;
    }
  return n ? s / n : kNaN;
}

std::vector<uint8_t> label_values(const Volume& v, int num_classes, const std::string& what) {
  std::vector<uint8_t> out(v.data.size());
  for (size_t i = 0; i < v.data.size(); ++i) {
    const float x = v.data[i];
    if (!(x >= 0) || x >= num_classes || x != std::floor(x))
      throw std::runtime_error(what + ": label value " + std::to_string(x) + " is not a class in 0.." +
                               std::to_string(num_classes - 1));
    out[i] = static_cast<uint8_t>(x);
  }
  return out;
}

CaseMetrics case_metrics(const std::string& id, const Volume& pred, const Volume& gt, int num_classes,
                         bool with_hd95) {
  if (pred.nx != gt.nx || pred.ny != gt.ny || pred.nz != gt.nz)
    throw std::runtime_error("case " + id + ": prediction and ground truth differ in size");
  CaseMetrics m;
  m.id = id;
  const auto p = label_values(pred, num_classes, "prediction of case " + id);
  const auto g = label_values(gt, num_classes, "ground truth of case " + id);
  m.dice = dice_per_class(p, g, num_classes);
  m.foreground_dice = nanmean(m.dice, 1);
  if (with_hd95) {
    m.hd95 = hd95_per_class(p, g, Grid3{gt.nx, gt.ny, gt.nz, gt.dx, gt.dy, gt.dz}, num_classes);
    m.foreground_hd95 = nanmean(m.hd95, 1);
  } else {
    m.hd95.assign(num_classes, std::nan(""));
    m.foreground_hd95 = std::nan("");
  }
  return m;
}

}  // namespace cs
