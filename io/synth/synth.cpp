#include "io/synth/synth.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "autograd/atomic_file.h"
#include "io/formats/nifti.h"
#include "io/rng.h"

namespace cs {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kAngleBins = 512;  // angular resolution of the per-depth heart contours

double clamp01(double x) { return x < 0 ? 0 : x > 1 ? 1 : x; }
// Fraction of a pixel inside a boundary at signed distance sd (mm, negative inside): a linear
// ramp of width w (about one pixel), i.e. in-plane partial volume.
inline double cover(double sd, double w) { return clamp01(0.5 - sd / w); }
inline double mix(double v, double value, double m) { return v + (value - v) * m; }

// Profile of a half-ellipsoid-like chamber along its long axis: 1 at the base (t = 0), falling to
// 0 at the tip (t = 1). p controls how blunt the tip is.
double profile(double t, double p) {
  if (t <= 0) return 1.0;
  if (t >= 1) return 0.0;
  return std::pow(1.0 - std::pow(t, p), 1.0 / p);
}

struct Ellipse {
  double cx = 0, cy = 0, a = 1, b = 1, c = 1, s = 0;
  Ellipse() = default;
  Ellipse(double x, double y, double ax, double bx, double angle)
      : cx(x), cy(y), a(ax), b(bx), c(std::cos(angle)), s(std::sin(angle)) {}
  // Approximate signed distance (mm): (rho - 1) / |grad rho| of rho = |(u/a, v/b)|.
  double sd(double x, double y) const {
    const double dx = x - cx, dy = y - cy;
    const double u = (c * dx + s * dy) / a, v = (-s * dx + c * dy) / b;
    const double rho = std::sqrt(u * u + v * v);
    if (rho < 1e-9) return -std::min(a, b);
    const double g = std::sqrt(u * u / (a * a) + v * v / (b * b)) / rho;
    return (rho - 1.0) / g;
  }
  Ellipse grown(double d) const {
    Ellipse e = *this;
    e.a = std::max(a + d, 1.0);
    e.b = std::max(b + d, 1.0);
    return e;
  }
};

struct Tissue {
  double blood, myo, fat, lung, muscle, tissue, liver, bone, csf;
};

// Everything outside the heart: fixed for a patient (both frames).
struct Anatomy {
  double rot_c = 1, rot_s = 0;  // in-plane rotation of the whole patient
  double ox = 0, oy = 0;        // position of the body centre in the image (mm)
  Ellipse body, muscle, inner, lung[2], aorta, spine, canal, liver;
  double liver_depth = 0;       // depth (mm) from which the liver shows, fading in over 15 mm
  Tissue I{};
};

struct Spot {
  double angle, rel_r, radius, d_lo, d_hi, intensity;  // intensity: fraction blood -> myo
};

// The heart of one frame, in anatomical coordinates (mm), depth d from the base plane.
struct Heart {
  double cx = 0, cy = 0, tilt_x = 0, tilt_y = 0;
  double theta = 0, ecc = 1;
  double R_endo = 25, L_endo = 70, p_endo = 2, R_epi = 33, L_epi = 80, p_epi = 2;
  double ha[3] = {0, 0, 0}, hp[3] = {0, 0, 0}, wa[3] = {0, 0, 0}, wp[3] = {0, 0, 0};
  double inf_angle = 0, inf_width = 0.5, inf_factor = 1;  // regional thinning (MINF)
  double rv_dir = kPi, rv_span = 1.2, rv_thick = 20, L_rv = 50, p_rv = 2, rv_wall = 3;
  double fat = 2, fat_freq = 3, fat_phase = 0;
  std::vector<Spot> spots;  // papillary muscles and trabeculations (inside the LV pool)
};

struct PatientGeometry {
  int nx = 0, ny = 0, nz = 0;
  double px = 1.5, spacing = 8, thickness = 8, d0 = 2;  // d0: depth of slice 0
  double blur = 0.7;           // Gaussian PSF sigma (pixels)
  double noise = 0.04;         // Rician sigma relative to blood intensity
  double gain = 400;           // intensity scale of the int16 output
  double bias[6] = {0, 0, 0, 0, 0, 0};
};

// Radial function of an ellipse with semi-axes 1 (direction theta) and ecc.
inline double ellipse_radius(double phi, double theta, double ecc) {
  const double c = std::cos(phi - theta), s = std::sin(phi - theta);
  return ecc / std::sqrt(ecc * ecc * c * c + s * s);
}

inline double wrap_angle(double a) {
  a = std::fmod(a + kPi, 2 * kPi);
  if (a < 0) a += 2 * kPi;
  return a - kPi;
}

// Contours of the heart at one depth, as functions of the angle about the LV centre.
struct HeartSlice {
  double cx, cy;
  bool any = false;
  std::array<float, kAngleBins + 1> endo, epi, rv, rv_wall, fat;  // outer radii (mm)
  struct ActiveSpot { double x, y, r, intensity; };
  std::vector<ActiveSpot> spots;
  double extent = 0;  // max outer radius
};

HeartSlice heart_at(const Heart& H, double d) {
  HeartSlice S;
  S.cx = H.cx + H.tilt_x * d;
  S.cy = H.cy + H.tilt_y * d;
  const double re = H.R_endo * profile(d / H.L_endo, H.p_endo);
  const double rp = H.R_epi * profile(d / H.L_epi, H.p_epi);
  const double prv = profile(d / H.L_rv, H.p_rv);
  S.any = rp > 0;
  const double span = H.rv_span * (0.55 + 0.45 * prv);
  const double thick = H.rv_thick * prv;
  for (int i = 0; i <= kAngleBins; ++i) {
    const double phi = -kPi + 2 * kPi * i / kAngleBins;
    const double e = ellipse_radius(phi, H.theta, H.ecc);
    double he = 1, hw = 1;
    for (int k = 0; k < 3; ++k) {
      he += H.ha[k] * std::cos((k + 2) * phi + H.hp[k]);
      hw += H.wa[k] * std::cos((k + 1) * phi + H.wp[k]);
    }
    const double dinf = wrap_angle(phi - H.inf_angle) / H.inf_width;
    const double inf = std::fabs(dinf) < 1 ? 1 - (1 - H.inf_factor) * std::pow(std::cos(dinf * kPi / 2), 2) : 1.0;
    const double r_endo = re * e * he;
    const double r_epi = r_endo + std::max(rp - re, 0.0) * e * hw * inf;
    // RV crescent on the LV's outside, centred on rv_dir.
    const double drv = std::fabs(wrap_angle(phi - H.rv_dir)) / span;
    const double t = drv < 1 ? std::pow(1 - drv * drv, 0.6) : 0.0;
    const double r_rv = r_epi + thick * t;
    // Free wall: present over the crescent, fading out over a few degrees past its horns.
    const double wall_w = thick > 0 ? clamp01((1.15 - drv) / 0.15) : 0.0;
    const double r_wall = r_rv + H.rv_wall * wall_w;
    const double f = H.fat * std::pow(std::max(0.0, std::cos(H.fat_freq * phi + H.fat_phase)), 2) + 0.4;
    S.endo[i] = static_cast<float>(r_endo);
    S.epi[i] = static_cast<float>(r_epi);
    S.rv[i] = static_cast<float>(r_rv);
    S.rv_wall[i] = static_cast<float>(r_wall);
    S.fat[i] = static_cast<float>(rp > 0 ? r_wall + f : 0.0);
    S.extent = std::max(S.extent, static_cast<double>(S.fat[i]));
  }
  for (const Spot& sp : H.spots) {
    if (d < sp.d_lo || d > sp.d_hi || re <= 0) continue;
    const double mid = 0.5 * (sp.d_lo + sp.d_hi), half = 0.5 * (sp.d_hi - sp.d_lo);
    const double taper = std::sqrt(std::max(0.0, 1 - std::pow((d - mid) / half, 2)));
    const double e = ellipse_radius(sp.angle, H.theta, H.ecc);
    const double rr = sp.rel_r * re * e;
    S.spots.push_back({S.cx + rr * std::cos(sp.angle), S.cy + rr * std::sin(sp.angle),
                       sp.radius * (0.4 + 0.6 * taper), sp.intensity});
  }
  return S;
}

inline float lut(const std::array<float, kAngleBins + 1>& a, double phi) {
  const double x = (phi + kPi) * (kAngleBins / (2 * kPi));
  int i = static_cast<int>(x);
  i = std::min(std::max(i, 0), kAngleBins - 1);
  const float t = static_cast<float>(x - i);
  return a[i] + (a[i + 1] - a[i]) * t;
}

// Paints the heart over background value v at anatomical (x, y); returns the label when asked.
double paint_heart(const HeartSlice& S, const Tissue& I, double x, double y, double w, double v,
                   uint8_t* label) {
  const double dx = x - S.cx, dy = y - S.cy;
  const double r = std::sqrt(dx * dx + dy * dy);
  if (!S.any || r > S.extent + w) {
    if (label) *label = 0;
    return v;
  }
  const double phi = std::atan2(dy, dx);
  const double r_endo = lut(S.endo, phi), r_epi = lut(S.epi, phi), r_rv = lut(S.rv, phi);
  v = mix(v, I.fat, cover(r - lut(S.fat, phi), w));
  v = mix(v, I.myo * 1.1, cover(r - lut(S.rv_wall, phi), w));
  v = mix(v, I.blood, cover(r - r_rv, w));
  v = mix(v, I.myo, cover(r - r_epi, w));
  const double in_pool = cover(r - r_endo, w);
  v = mix(v, I.blood, in_pool);
  for (const auto& sp : S.spots) {
    const double ds = std::hypot(x - sp.x, y - sp.y) - sp.r;
    v = mix(v, I.blood + (I.myo - I.blood) * sp.intensity, cover(ds, w) * in_pool);
  }
  if (label) {
    uint8_t l = 0;
    if (r < r_rv && r_rv > r_epi) l = 1;
    if (r < r_epi) l = 2;
    if (r < r_endo) l = 3;
    *label = l;
  }
  return v;
}

double paint_background(const Anatomy& A, double x, double y, double d, double w) {
  const Tissue& I = A.I;
  double v = 0;
  v = mix(v, I.fat, cover(A.body.sd(x, y), w));
  v = mix(v, I.muscle, cover(A.muscle.sd(x, y), w));
  v = mix(v, I.tissue, cover(A.inner.sd(x, y), w));
  const double liver_w = clamp01((d - A.liver_depth) / 15.0);
  if (liver_w > 0) v = mix(v, I.liver, cover(A.liver.sd(x, y), w) * liver_w);
  for (const Ellipse& l : A.lung) v = mix(v, I.lung, cover(l.sd(x, y), w));
  v = mix(v, I.bone, cover(A.spine.sd(x, y), w));
  v = mix(v, I.csf, cover(A.canal.sd(x, y), w));
  v = mix(v, I.blood * 0.92, cover(A.aorta.sd(x, y), w));
  return v;
}

void gaussian_blur(std::vector<float>& img, int w, int h, double sigma) {
  if (sigma <= 0.05) return;
  const int rad = static_cast<int>(std::ceil(3 * sigma));
  std::vector<float> k(2 * rad + 1);
  double s = 0;
  for (int i = -rad; i <= rad; ++i) s += k[i + rad] = static_cast<float>(std::exp(-0.5 * i * i / (sigma * sigma)));
  for (auto& x : k) x = static_cast<float>(x / s);
  std::vector<float> tmp(img.size());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      float a = 0;
      for (int i = -rad; i <= rad; ++i) a += k[i + rad] * img[y * w + std::clamp(x + i, 0, w - 1)];
      tmp[y * w + x] = a;
    }
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      float a = 0;
      for (int i = -rad; i <= rad; ++i) a += k[i + rad] * tmp[std::clamp(y + i, 0, h - 1) * w + x];
      img[y * w + x] = a;
    }
}

// Proper rotation matrix -> NIfTI quaternion (b, c, d) with a >= 0.
void rotation_to_quaternion(const double R[3][3], double* b, double* c, double* d) {
  const double tr = R[0][0] + R[1][1] + R[2][2];
  double qa, qb, qc, qd;
  if (tr > 0) {
    const double s = 0.5 / std::sqrt(tr + 1.0);
    qa = 0.25 / s;
    qb = (R[2][1] - R[1][2]) * s;
    qc = (R[0][2] - R[2][0]) * s;
    qd = (R[1][0] - R[0][1]) * s;
  } else if (R[0][0] > R[1][1] && R[0][0] > R[2][2]) {
    const double s = 2.0 * std::sqrt(1.0 + R[0][0] - R[1][1] - R[2][2]);
    qa = (R[2][1] - R[1][2]) / s;
    qb = 0.25 * s;
    qc = (R[0][1] + R[1][0]) / s;
    qd = (R[0][2] + R[2][0]) / s;
  } else if (R[1][1] > R[2][2]) {
    const double s = 2.0 * std::sqrt(1.0 + R[1][1] - R[0][0] - R[2][2]);
    qa = (R[0][2] - R[2][0]) / s;
    qb = (R[0][1] + R[1][0]) / s;
    qc = 0.25 * s;
    qd = (R[1][2] + R[2][1]) / s;
  } else {
    const double s = 2.0 * std::sqrt(1.0 + R[2][2] - R[0][0] - R[1][1]);
    qa = (R[1][0] - R[0][1]) / s;
    qb = (R[0][2] + R[2][0]) / s;
    qc = (R[1][2] + R[2][1]) / s;
    qd = 0.25 * s;
  }
  if (qa < 0) qb = -qb, qc = -qc, qd = -qd;
  *b = qb;
  *c = qc;
  *d = qd;
}

// An oblique short-axis orientation: world = R * diag(dx, dy, dz * qfac) * ijk + offset, with R a
// proper rotation; the same qform and sform for image and label.
void set_geometry(Volume& v, const double R[3][3], const double offset[3], double qfac) {
  v.qform_code = v.sform_code = 1;  // scanner coordinates
  v.qfac = qfac;
  rotation_to_quaternion(R, &v.quatern_b, &v.quatern_c, &v.quatern_d);
  v.qoffset_x = offset[0];
  v.qoffset_y = offset[1];
  v.qoffset_z = offset[2];
  const double d[3] = {v.dx, v.dy, v.dz * qfac};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) v.qto_xyz[i][j] = v.sto_xyz[i][j] = R[i][j] * d[j];
    v.qto_xyz[i][3] = v.sto_xyz[i][3] = offset[i];
  }
  for (int j = 0; j < 4; ++j) v.qto_xyz[3][j] = v.sto_xyz[3][j] = j == 3 ? 1 : 0;
  v.xyz_units = 2;
  v.descrip = "contraseg synthetic cardiac phantom";
}

// How voxels are stored: stored axis a is axis src[a] of the rendered volume (x, y in-plane, z
// from base to apex), reversed when flip[a].
struct StorageAxes {
  int src[3] = {0, 1, 2};
  bool flip[3] = {false, false, false};
};

StorageAxes storage_axes(const PhantomAcquisition& a) {
  StorageAxes s;
  if (a.transpose) s.src[0] = 1, s.src[1] = 0;
  s.flip[0] = a.flip_x;
  s.flip[1] = a.flip_y;
  s.flip[2] = a.slice_order == PhantomAcquisition::SliceOrder::ApexToBase;
  return s;
}

// Stores a rendered volume (world = R * diag(d) * ijk + offset) along `s` and sets its qform and
// sform so that every voxel keeps its world position: stored column a of the affine is column
// src[a], negated when flipped, and a flipped axis starts at the rendered axis' far end. A swap
// or an odd number of flips makes the affine left-handed: the qform's rotation must stay proper,
// so its slice column is negated and qfac = -1 puts the reflection back (NIfTI-1 qform rules).
void store(Volume& v, const StorageAxes& s, const double R[3][3], const double offset[3]) {
  const int n[3] = {v.nx, v.ny, v.nz};
  const double d[3] = {v.dx, v.dy, v.dz};
  Volume out = v;
  out.nx = n[s.src[0]];
  out.ny = n[s.src[1]];
  out.nz = n[s.src[2]];
  out.dx = static_cast<float>(d[s.src[0]]);
  out.dy = static_cast<float>(d[s.src[1]]);
  out.dz = static_cast<float>(d[s.src[2]]);
  size_t p = 0;
  int idx[3], o[3];
  for (idx[2] = 0; idx[2] < out.nz; ++idx[2])
    for (idx[1] = 0; idx[1] < out.ny; ++idx[1])
      for (idx[0] = 0; idx[0] < out.nx; ++idx[0]) {
        for (int a = 0; a < 3; ++a) o[s.src[a]] = s.flip[a] ? n[s.src[a]] - 1 - idx[a] : idx[a];
        out.data[p++] = v.data[v.index(o[0], o[1], o[2])];
      }
  double Rs[3][3], off[3] = {offset[0], offset[1], offset[2]};
  double det = s.src[0] == 0 ? 1 : -1;  // the in-plane swap is the only permutation
  for (int a = 0; a < 3; ++a) {
    const int c = s.src[a];
    const double sign = s.flip[a] ? -1 : 1;
    det *= sign;
    for (int i = 0; i < 3; ++i) Rs[i][a] = sign * R[i][c];
    if (s.flip[a])
      for (int i = 0; i < 3; ++i) off[i] += R[i][c] * d[c] * (n[c] - 1);
  }
  if (det < 0)
    for (int i = 0; i < 3; ++i) Rs[i][2] = -Rs[i][2];
  set_geometry(out, Rs, off, det < 0 ? -1.0 : 1.0);
  v = std::move(out);
}

// Stores intensities as int16 q with intensity = q * slope + inter (slope and inter as float32,
// as the header holds them): each value becomes the one a reader gets back, q clipped to int16.
void quantise(Volume& v, double slope, double inter) {
  const double s = static_cast<float>(slope), i = static_cast<float>(inter);
  for (float& x : v.data) {
    const double q = std::clamp(std::round((x - i) / s), -32768.0, 32767.0);
    x = static_cast<float>(q * s + i);
  }
}

// The clamp of the matrix size: 150..256 for the default ranges, scaled by the typical matrix
// (FOV / pixel size) of the requested ranges, so that finer pixels get larger matrices.
struct MatrixClamp {
  int lo, hi;
};

// FOV / pixel size of the ranges relative to the default ranges: exactly 1 for the defaults.
double matrix_scale(const PhantomAcquisition& a) {
  const PhantomAcquisition d;
  return ((a.fov_lo + a.fov_hi) / (a.pixel_lo + a.pixel_hi)) / ((d.fov_lo + d.fov_hi) / (d.pixel_lo + d.pixel_hi));
}

MatrixClamp matrix_clamp(const PhantomAcquisition& a) {
  const double scale = matrix_scale(a);
  return {2 * static_cast<int>(std::lround(75 * scale)), 2 * static_cast<int>(std::lround(128 * scale))};
}

Anatomy make_anatomy(Rng& r, const Heart& ed) {
  Anatomy A;
  const double rot = r.uniform(-0.45, 0.45);
  A.rot_c = std::cos(rot);
  A.rot_s = std::sin(rot);
  A.ox = r.uniform(-12, 12);
  A.oy = r.uniform(-12, 12);
  const double ba = r.uniform(130, 170), bb = r.uniform(90, 120);
  const double fat = r.uniform(5, 18), muscle = r.uniform(7, 14);
  A.body = Ellipse(0, r.uniform(-5, 10), ba, bb, r.uniform(-0.05, 0.05));
  A.muscle = A.body.grown(-fat);
  A.inner = A.muscle.grown(-muscle);
  for (int s = 0; s < 2; ++s) {
    const double sign = s == 0 ? -1 : 1;
    A.lung[s] = Ellipse(sign * r.uniform(62, 85), r.uniform(-5, 20), r.uniform(38, 55), r.uniform(62, 85),
                        sign * r.uniform(0.0, 0.35));
  }
  A.spine = Ellipse(r.uniform(-6, 6), bb * r.uniform(0.55, 0.68), r.uniform(13, 18), r.uniform(12, 16), 0);
  A.canal = Ellipse(A.spine.cx, A.spine.cy + A.spine.b + r.uniform(4, 8), 6, 5.5, 0);
  const double ar = r.uniform(10, 14);
  A.aorta = Ellipse(A.spine.cx - r.uniform(16, 30), A.spine.cy - A.spine.b - ar * r.uniform(0.4, 1.0), ar, ar, 0);
  A.liver = Ellipse(r.uniform(-70, -30), r.uniform(0, 40), r.uniform(70, 100), r.uniform(50, 80), r.uniform(-0.3, 0.3));
  A.liver_depth = ed.L_epi * r.uniform(0.55, 0.85);
  Tissue& I = A.I;
  I.blood = r.uniform(0.9, 1.1);
  I.myo = r.uniform(0.2, 0.38);
  I.fat = r.uniform(0.7, 0.95);
  I.lung = r.uniform(0.02, 0.08);
  I.muscle = r.uniform(0.22, 0.4);
  I.tissue = r.uniform(0.33, 0.55);
  I.liver = r.uniform(0.38, 0.6);
  I.bone = r.uniform(0.25, 0.4);
  I.csf = r.uniform(0.7, 0.95);
  return A;
}

// End-diastolic heart of a patient of the given group.
Heart make_heart(Rng& r, const std::string& group, double L_epi) {
  Heart H;
  double R_endo = r.uniform(22, 27), wall = r.uniform(7, 9.5), rv_scale = 1.0;
  if (group == "DCM") R_endo = r.uniform(29, 35), wall = r.uniform(5, 7);
  if (group == "HCM") R_endo = r.uniform(17, 22), wall = r.uniform(12, 17);
  if (group == "MINF") R_endo = r.uniform(25, 31), wall = r.uniform(6.5, 9);
  if (group == "RV") rv_scale = r.uniform(1.3, 1.55);
  H.cx = r.uniform(-5, 30);
  H.cy = r.uniform(-30, 0);
  H.tilt_x = r.uniform(-0.15, 0.15);
  H.tilt_y = r.uniform(-0.15, 0.15);
  H.theta = r.uniform(-kPi, kPi);
  H.ecc = r.uniform(0.8, 1.0);
  H.L_epi = L_epi;
  H.R_endo = R_endo;
  H.R_epi = R_endo + wall;
  H.L_endo = L_epi - r.uniform(6, 10);
  H.p_endo = r.uniform(1.7, 2.6);
  H.p_epi = r.uniform(1.8, 2.6);
  for (int k = 0; k < 3; ++k) {
    H.ha[k] = r.normal(0, 0.025);
    H.hp[k] = r.uniform(-kPi, kPi);
    H.wa[k] = r.normal(0, 0.08);
    H.wp[k] = r.uniform(-kPi, kPi);
  }
  if (group == "MINF") {
    H.inf_angle = r.uniform(-kPi, kPi);
    H.inf_width = r.uniform(0.5, 1.1);
    H.inf_factor = r.uniform(0.35, 0.6);
  }
  H.rv_dir = kPi + r.uniform(-0.5, 0.5);
  H.rv_span = r.uniform(0.9, 1.35);
  H.rv_thick = r.uniform(12, 20) * rv_scale;
  H.L_rv = L_epi * r.uniform(0.6, 0.78);
  H.p_rv = r.uniform(1.4, 2.4);
  H.rv_wall = r.uniform(2.5, 4);
  H.fat = r.uniform(1, 5);
  H.fat_freq = r.uniform_int(2, 4);
  H.fat_phase = r.uniform(-kPi, kPi);
  // Two papillary muscles, opposite the RV, and trabeculations near the endocardium.
  for (int k = 0; k < 2; ++k) {
    const double a = wrap_angle(H.rv_dir + kPi + (k == 0 ? -1 : 1) * r.uniform(0.6, 1.1));
    H.spots.push_back({a, r.uniform(0.6, 0.78), r.uniform(2.5, 4.5), H.L_endo * r.uniform(0.15, 0.3),
                       H.L_endo * r.uniform(0.65, 0.85), r.uniform(0.75, 1.0)});
  }
  const int trab = r.uniform_int(5, 12);
  for (int k = 0; k < trab; ++k)
    H.spots.push_back({r.uniform(-kPi, kPi), r.uniform(0.8, 0.95), r.uniform(1.0, 2.2), H.L_endo * r.uniform(0.1, 0.5),
                       H.L_endo * r.uniform(0.6, 1.0), r.uniform(0.35, 0.8)});
  return H;
}

// End-systolic version: the pool shrinks, the wall thickens (myocardial area roughly kept), the
// long axis shortens and the RV contracts.
Heart contract(const Heart& ed, Rng& r, const std::string& group) {
  Heart H = ed;
  double f = r.uniform(0.6, 0.75);
  if (group == "DCM") f = r.uniform(0.85, 0.93);
  if (group == "HCM") f = r.uniform(0.45, 0.6);
  if (group == "MINF") f = r.uniform(0.78, 0.9);
  H.R_endo = ed.R_endo * f;
  H.R_epi = std::sqrt(H.R_endo * H.R_endo + ed.R_epi * ed.R_epi - ed.R_endo * ed.R_endo);
  const double shorten = r.uniform(0.88, 0.94);
  H.L_epi = ed.L_epi * shorten;
  H.L_endo = ed.L_endo * shorten * 0.97;
  H.L_rv = ed.L_rv * shorten;
  H.rv_thick = ed.rv_thick * (group == "RV" ? r.uniform(0.75, 0.9) : r.uniform(0.5, 0.7));
  for (Spot& s : H.spots) {
    s.d_lo *= shorten;
    s.d_hi *= shorten;
    s.radius *= 1.2;
  }
  return H;
}

// Per-patient fields shared by every slice of both frames: anatomical coordinates of each pixel,
// the background without and with the liver (painting is affine in the liver's weight, so any
// slice's background is a blend of the two), and the smooth multiplicative bias x texture field.
struct PatientFields {
  std::vector<float> x, y, bg0, bg1, gain_field;
};

PatientFields make_fields(const Anatomy& A, const PatientGeometry& G, Rng& r) {
  const int nx = G.nx, ny = G.ny;
  const size_t n = static_cast<size_t>(nx) * ny;
  PatientFields F;
  F.x.resize(n);
  F.y.resize(n);
  F.bg0.resize(n);
  F.bg1.resize(n);
  F.gain_field.resize(n);
  // Tissue texture: two coarse random grids, bilinearly upsampled (blood flow inhomogeneity,
  // fat/muscle texture, coil sensitivity ripples).
  const int g1 = 8, g2 = 20;
  std::vector<double> t1(g1 * g1), t2(g2 * g2);
  for (auto& v : t1) v = r.normal(0, 0.06);
  for (auto& v : t2) v = r.normal(0, 0.035);
  auto grid = [](const std::vector<double>& g, int m, double u, double v) {
    const double fu = u * (m - 1), fv = v * (m - 1);
    const int iu = std::min(static_cast<int>(fu), m - 2), iv = std::min(static_cast<int>(fv), m - 2);
    const double a = fu - iu, b = fv - iv;
    return (g[iv * m + iu] * (1 - a) + g[iv * m + iu + 1] * a) * (1 - b) +
           (g[(iv + 1) * m + iu] * (1 - a) + g[(iv + 1) * m + iu + 1] * a) * b;
  };
  const double w = G.px;
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const size_t p = static_cast<size_t>(j) * nx + i;
      // Image (X, Y) -> anatomical (x, y): shift, then rotate the patient.
      const double X = (i - 0.5 * (nx - 1)) * G.px - A.ox, Y = (j - 0.5 * (ny - 1)) * G.px - A.oy;
      const double x = A.rot_c * X + A.rot_s * Y, y = -A.rot_s * X + A.rot_c * Y;
      F.x[p] = static_cast<float>(x);
      F.y[p] = static_cast<float>(y);
      F.bg0[p] = static_cast<float>(paint_background(A, x, y, -1e9, w));
      F.bg1[p] = static_cast<float>(paint_background(A, x, y, 1e9, w));
      const double xr = (i - 0.5 * nx) / (0.5 * nx), yr = (j - 0.5 * ny) / (0.5 * ny);
      const double* b = G.bias;
      const double bias = std::exp(b[0] * xr + b[1] * yr + b[2] * xr * xr + b[3] * yr * yr + b[4] * xr * yr);
      const double u = static_cast<double>(i) / (nx - 1), v = static_cast<double>(j) / (ny - 1);
      F.gain_field[p] = static_cast<float>(bias * (1 + grid(t1, g1, u, v) + grid(t2, g2, u, v)));
    }
  return F;
}

void render_frame(const Anatomy& A, const Heart& H, const PatientGeometry& G, const PatientFields& F,
                  Rng& noise, PhantomFrame& out) {
  out.image = make_volume(G.nx, G.ny, G.nz, static_cast<float>(G.px), static_cast<float>(G.px),
                          static_cast<float>(G.spacing));
  out.label = out.image;
  const double w = G.px;  // partial-volume ramp: one pixel
  const int nx = G.nx, ny = G.ny;
  const size_t n = static_cast<size_t>(nx) * ny;
  std::vector<float> slice(n);
  const double sub[3] = {-G.thickness / 3, 0.0, G.thickness / 3};  // through-slice partial volume
  const double sigma = G.noise * A.I.blood;
  for (int k = 0; k < G.nz; ++k) {
    const double d = G.d0 + k * G.spacing;
    const float lw = static_cast<float>(clamp01((d - A.liver_depth) / 15.0));
    for (size_t p = 0; p < n; ++p) slice[p] = F.bg0[p] + (F.bg1[p] - F.bg0[p]) * lw;
    float* lab = out.label.data.data() + static_cast<size_t>(k) * n;
    HeartSlice hs[3];
    double extent = 0, hx = 0, hy = 0;
    for (int s = 0; s < 3; ++s) {
      hs[s] = heart_at(H, std::max(0.0, d + sub[s]));
      extent = std::max(extent, hs[s].extent + std::hypot(hs[s].cx - hs[1].cx, hs[s].cy - hs[1].cy));
    }
    hx = hs[1].cx;
    hy = hs[1].cy;
    // Only pixels near the heart need the heart painted: the box around its centre in the image.
    const double Xc = A.rot_c * hx - A.rot_s * hy + A.ox, Yc = A.rot_s * hx + A.rot_c * hy + A.oy;
    const double reach = extent + 2 * w;
    const int i0 = std::max(0, static_cast<int>(std::floor((Xc - reach) / G.px + 0.5 * (nx - 1))));
    const int i1 = std::min(nx - 1, static_cast<int>(std::ceil((Xc + reach) / G.px + 0.5 * (nx - 1))));
    const int j0 = std::max(0, static_cast<int>(std::floor((Yc - reach) / G.px + 0.5 * (ny - 1))));
    const int j1 = std::min(ny - 1, static_cast<int>(std::ceil((Yc + reach) / G.px + 0.5 * (ny - 1))));
    for (int j = j0; j <= j1; ++j)
      for (int i = i0; i <= i1; ++i) {
        const size_t p = static_cast<size_t>(j) * nx + i;
        uint8_t l = 0;
        double v = 0;
        for (int s = 0; s < 3; ++s) v += paint_heart(hs[s], A.I, F.x[p], F.y[p], w, slice[p], s == 1 ? &l : nullptr);
        slice[p] = static_cast<float>(v / 3);
        lab[p] = l;
      }
    gaussian_blur(slice, nx, ny, G.blur);
    const double zr = G.nz > 1 ? 2.0 * k / (G.nz - 1) - 1.0 : 0.0;
    const float zbias = static_cast<float>(std::exp(G.bias[5] * zr));
    float* img = out.image.data.data() + static_cast<size_t>(k) * n;
    for (size_t p = 0; p < n; ++p) {
      const double s = slice[p] * F.gain_field[p] * zbias;
      // Rician: magnitude of a complex signal with Gaussian noise on both channels (Box-Muller
      // gives the two independent normals at once).
      const double u1 = 1.0 - noise.uniform(), u2 = noise.uniform();
      const double rad = sigma * std::sqrt(-2.0 * std::log(u1));
      const double n1 = rad * std::cos(2 * kPi * u2), n2 = rad * std::sin(2 * kPi * u2);
      const double m = std::sqrt((s + n1) * (s + n1) + n2 * n2);
      img[p] = static_cast<float>(std::min(std::round(m * G.gain), 32767.0));
    }
  }
}

}  // namespace

std::string phantom_patient_name(int id) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "patient%03d", id);
  return buf;
}

std::string phantom_group(int id, int patients) {
  static const char* groups[5] = {"DCM", "HCM", "MINF", "NOR", "RV"};
  if (patients <= 0 || id < 1 || id > patients)
    throw std::invalid_argument("phantom: patient " + std::to_string(id) + " of " + std::to_string(patients));
  return groups[std::min(4, static_cast<int>((static_cast<int64_t>(id - 1) * 5) / patients))];
}

void check_phantom_acquisition(const PhantomAcquisition& a) {
  auto str = [](double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", x);
    return std::string(b);
  };
  auto range = [&](const char* what, double lo, double hi, double min, const char* unit) {
    if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi || lo < min || (min == 0 && lo <= 0))
      throw std::invalid_argument(std::string("phantom: ") + what + " range " + str(lo) + ".." + str(hi) + unit +
                                  " must have 0 < LO <= HI" + (min > 0 ? " and LO >= " + str(min) : ""));
  };
  range("pixel size", a.pixel_lo, a.pixel_hi, 0, " mm");
  range("field of view", a.fov_lo, a.fov_hi, 0, " mm");
  range("slice count", a.slices_lo, a.slices_hi, 2, "");
  if (a.slices_hi > 512)
    throw std::invalid_argument("phantom: slice count " + std::to_string(a.slices_hi) + " above 512");
  range("slice spacing", a.spacing_lo, a.spacing_hi, 0, " mm");
  range("intensity gain", a.gain_lo, a.gain_hi, 0, "");
  // The stack must be long enough for a heart (its long axis follows the stack).
  if ((a.slices_hi - 1) * a.spacing_hi < 30)
    throw std::invalid_argument("phantom: slice count and spacing ranges cover at most " +
                                str((a.slices_hi - 1) * a.spacing_hi) + " mm, less than the 30 mm a heart needs");
  // In double: absurd ranges must not overflow the integer matrix sizes.
  const double lo = 150 * matrix_scale(a), hi = 256 * matrix_scale(a);
  const double largest = std::max(lo, std::min(hi, a.fov_hi * 1.2 / a.pixel_lo));  // x is up to 1.2 x FOV
  if (lo < 16 || largest > 1024)
    throw std::invalid_argument("phantom: pixel size and field of view ranges give matrices of " + str(std::round(lo)) +
                                ".." + str(std::round(largest)) + " pixels (16..1024 allowed)");
  const float slope = static_cast<float>(a.scl_slope), inter = static_cast<float>(a.scl_inter);
  if (!std::isfinite(slope) || !std::isfinite(inter) || (a.scl_slope != 0 && slope == 0))
    throw std::invalid_argument("phantom: scl_slope and scl_inter must be finite float32 values, slope non-zero");
  if (a.scl_slope == 0 && a.scl_inter != 0)
    throw std::invalid_argument("phantom: scl_inter needs a non-zero scl_slope");
  // float32 intensities near a large intercept would lose the int16 steps
  if (std::fabs(a.scl_inter) > 1e6 * std::fabs(a.scl_slope))
    throw std::invalid_argument("phantom: |scl_inter| must be at most 1e6 x |scl_slope|");
}

PhantomPatient make_phantom_patient(int id, const PhantomOptions& opt) {
  PhantomPatient P;
  P.id = id;
  P.group = phantom_group(id, opt.patients);
  check_phantom_acquisition(opt.acq);
  Rng root = Rng(opt.seed).split(static_cast<uint64_t>(id));
  Rng r = root.split("shape");

  // Acquisition: pixel size, slice spacing and count covering the heart from base to apex. The
  // LV length follows the stack (the last slice sits `tip` above the apex), so slice ranges far
  // from the default give shorter or longer hearts, always covered.
  const PhantomAcquisition& acq = opt.acq;
  PatientGeometry G;
  G.px = r.uniform(acq.pixel_lo, acq.pixel_hi);
  const double target_len = r.uniform(62, 95);  // LV length at ED (mm)
  G.d0 = r.uniform(0, 4);
  const double tip = r.uniform(1, 6);  // the last slice sits this far above the apex
  const double cover_len = target_len - G.d0 - tip;
  // zmin: the fewest slices that reach the apex at the widest spacing, within the slice range
  // (if even acq.slices_hi cannot, the spacing clamp below makes the heart shorter).
  const int zmin = std::min(acq.slices_hi,
                            std::max(acq.slices_lo, static_cast<int>(std::ceil(cover_len / acq.spacing_hi)) + 1));
  const int zmax =
      std::max(zmin, std::min(acq.slices_hi, static_cast<int>(std::floor(cover_len / acq.spacing_lo)) + 1));
  G.nz = r.uniform_int(zmin, zmax);
  G.spacing = std::clamp(std::round(cover_len / (G.nz - 1) * 2) / 2, acq.spacing_lo, acq.spacing_hi);  // 0.5 mm steps
  G.thickness = G.spacing * r.uniform(0.7, 1.0);
  const double L_epi = G.d0 + (G.nz - 1) * G.spacing + tip;
  const double fov = r.uniform(acq.fov_lo, acq.fov_hi);
  const MatrixClamp mc = matrix_clamp(acq);
  G.ny = std::clamp(static_cast<int>(std::lround(fov / G.px / 2)) * 2, mc.lo, mc.hi);
  G.nx = std::clamp(static_cast<int>(std::lround(fov * r.uniform(1.0, 1.2) / G.px / 2)) * 2, mc.lo, mc.hi);
  G.blur = r.uniform(0.45, 0.9);
  G.noise = r.uniform(0.025, 0.07);
  G.gain = r.uniform(acq.gain_lo, acq.gain_hi);
  for (int i = 0; i < 2; ++i) G.bias[i] = r.normal(0, 0.2);
  for (int i = 2; i < 5; ++i) G.bias[i] = r.normal(0, 0.12);
  G.bias[5] = r.normal(0, 0.08);

  const Heart ed = make_heart(r, P.group, L_epi);
  const Heart es = contract(ed, r, P.group);
  const Anatomy A = make_anatomy(r, ed);

  P.nb_frames = r.uniform_int(25, 30);
  P.es_frame = std::clamp(static_cast<int>(std::lround(P.nb_frames * r.uniform(0.3, 0.45))), 2, P.nb_frames);
  P.height_cm = std::round(r.uniform(150, 195));
  P.weight_kg = std::round(r.uniform(50, 110));

  // Scanner orientation of the short-axis stack: an oblique rotation, shared by both frames.
  const double ax = r.uniform(-0.6, 0.6), ay = r.uniform(-0.6, 0.6), az = r.uniform(-kPi, kPi);
  const double Rx[3][3] = {{1, 0, 0}, {0, std::cos(ax), -std::sin(ax)}, {0, std::sin(ax), std::cos(ax)}};
  const double Ry[3][3] = {{std::cos(ay), 0, std::sin(ay)}, {0, 1, 0}, {-std::sin(ay), 0, std::cos(ay)}};
  const double Rz[3][3] = {{std::cos(az), -std::sin(az), 0}, {std::sin(az), std::cos(az), 0}, {0, 0, 1}};
  double T[3][3] = {}, R[3][3] = {};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) T[i][j] += Ry[i][k] * Rx[k][j];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) R[i][j] += Rz[i][k] * T[k][j];
  const double offset[3] = {r.uniform(-200, 0), r.uniform(-200, 0), r.uniform(-100, 100)};

  Rng field_rng = root.split("fields");
  const PatientFields F = make_fields(A, G, field_rng);
  Rng noise_ed = root.split("noise-ed"), noise_es = root.split("noise-es");
  render_frame(A, ed, G, F, noise_ed, P.ed);
  render_frame(A, es, G, F, noise_es, P.es);
  const StorageAxes axes = storage_axes(acq);
  for (PhantomFrame* f : {&P.ed, &P.es}) {
    store(f->image, axes, R, offset);
    store(f->label, axes, R, offset);
    if (acq.scl_slope != 0) quantise(f->image, acq.scl_slope, acq.scl_inter);
  }
  P.scl_slope = acq.scl_slope;
  P.scl_inter = acq.scl_inter;
  return P;
}

std::string phantom_info_cfg(const PhantomPatient& p) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "ED: %d\nES: %d\nGroup: %s\nHeight: %.1f\nNbFrame: %d\nWeight: %.1f\n",
                p.ed_frame, p.es_frame, p.group.c_str(), p.height_cm, p.nb_frames, p.weight_kg);
  return buf;
}

void write_phantom_patient(const std::string& dir, const PhantomPatient& p) {
  namespace fs = std::filesystem;
  const std::string name = phantom_patient_name(p.id);
  const fs::path pdir = fs::path(dir) / name;
  std::error_code ec;
  fs::create_directories(pdir, ec);
  if (ec) throw std::runtime_error(pdir.string() + ": cannot create directory: " + ec.message());
  char frame[16];
  const std::pair<int, const PhantomFrame*> frames[2] = {{p.ed_frame, &p.ed}, {p.es_frame, &p.es}};
  for (const auto& [num, f] : frames) {
    std::snprintf(frame, sizeof frame, "_frame%02d", num);
    const std::string base = (pdir / (name + frame)).string();
    if (p.scl_slope != 0)
      write_nifti_int16_scaled(base + ".nii.gz", f->image, p.scl_slope, p.scl_inter);
    else
      write_nifti_label(base + ".nii.gz", f->image, 4);  // int16 image
    write_nifti_label(base + "_gt.nii.gz", f->label, 2);
  }
  write_file_atomic((pdir / "Info.cfg").string(), phantom_info_cfg(p));
}

}  // namespace cs
