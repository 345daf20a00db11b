#pragma once
// A 3D volume in NIfTI voxel order plus the header geometry needed to write it back unchanged.
//
// data[x + nx * (y + ny * z)]: x varies fastest, exactly as stored in a NIfTI file.
// Geometry follows the NIfTI-1 meaning of each field: qform (quaternion + offsets + qfac, with
// pixdim as the voxel size) and sform (a general 3x4 affine). qto_xyz is derived from the quatern
// parameters when a file is read; a writer uses the quatern parameters for the qform and sto_xyz
// for the sform, as the NIfTI library does.
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace cs {

struct Volume {
  std::vector<float> data;  // nx*ny*nz voxels, x fastest
  int nx = 0, ny = 0, nz = 0;
  float dx = 1.f, dy = 1.f, dz = 1.f;  // voxel size (pixdim[1..3]), positive

  // ---- header geometry
  int qform_code = 0, sform_code = 0;  // NIFTI_XFORM_* codes (0 unknown, 1 scanner, 2 aligned, ...)
  double qto_xyz[4][4] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};
  double sto_xyz[4][4] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};
  double quatern_b = 0, quatern_c = 0, quatern_d = 0;
  double qoffset_x = 0, qoffset_y = 0, qoffset_z = 0;
  double qfac = 1;  // pixdim[0]: +1 or -1 (the handedness of the qform)
  int xyz_units = 2;  // NIFTI_UNITS_MM
  int time_units = 0;

  // ---- where the data came from (informational; writers choose their own datatype)
  int datatype = 16;       // original NIfTI datatype code (16 = float32)
  double scl_slope = 0;    // as stored in the source header (0: none)
  double scl_inter = 0;
  int nifti_version = 1;   // of the source file (1 or 2); files are written as NIfTI-1
  int nt = 1;              // number of volumes (4th dim) in the source file
  int t = 0;               // which of them this is
  std::string descrip;     // header description text, kept on write

  size_t size() const { return static_cast<size_t>(nx) * ny * nz; }
  size_t index(int x, int y, int z) const {
    return static_cast<size_t>(x) + static_cast<size_t>(nx) * (static_cast<size_t>(y) + static_cast<size_t>(ny) * z);
  }
  float& at(int x, int y, int z) { return data[index(x, y, z)]; }
  float at(int x, int y, int z) const { return data[index(x, y, z)]; }
};

// A volume of nx x ny x nz zeros with voxel size (dx, dy, dz) and a plain scaling geometry
// (qform and sform codes 1, affine diag(dx, dy, dz)), for data made from scratch.
inline Volume make_volume(int nx, int ny, int nz, float dx = 1.f, float dy = 1.f, float dz = 1.f) {
  Volume v;
  v.nx = nx;
  v.ny = ny;
  v.nz = nz;
  v.dx = dx;
  v.dy = dy;
  v.dz = dz;
  v.data.assign(v.size(), 0.f);
  v.qform_code = v.sform_code = 1;
  const double d[3] = {dx, dy, dz};
  for (int i = 0; i < 3; ++i) v.qto_xyz[i][i] = v.sto_xyz[i][i] = d[i];
  return v;
}

// A volume with the geometry of `like` and new data of the same size (e.g. a prediction).
inline Volume same_geometry(const Volume& like, std::vector<float> data) {
  if (data.size() != like.size())
    throw std::invalid_argument("same_geometry: " + std::to_string(data.size()) + " values for a " +
                                std::to_string(like.nx) + "x" + std::to_string(like.ny) + "x" +
                                std::to_string(like.nz) + " volume");
  Volume v = like;  // one copy of the old data: volumes are a few MB, simplicity wins
  v.data = std::move(data);
  return v;
}

}  // namespace cs
