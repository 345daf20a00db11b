#pragma once
// NIfTI-1 and NIfTI-2 single-file volumes (.nii, .nii.gz) through the NIfTI C library.
//
// Reading validates the header before any data is read (size, magic, dims, datatype, data offset,
// file length), so that no input makes the library allocate absurd amounts or read past the end
// of a file; every problem becomes a std::runtime_error whose message starts with the path.
// Every supported datatype is read into float32 with scl_slope/scl_inter applied (a slope of 0 or
// a non-finite slope means "no scaling", as in the NIfTI standard). NaN or infinite voxels are
// errors. A zero or non-finite voxel size (pixdim[1..3]) is taken from the sform (the length of its
// column) when the file has one (sform_code > 0), and is an error naming the file otherwise; the
// qform matrix is then derived with that size (the NIfTI library alone would read it as 1 mm).
//
// Files are written as NIfTI-1 (dims up to 32767), whatever the source version.
// Writing keeps the source geometry (pixdim, qform and sform codes, quaternion, sform matrix,
// units, description) and is atomic: the file is written next to its destination under a
// temporary name, verified by reading its header back, then renamed.
#include <cstdint>
#include <string>
#include <vector>

#include "io/volume.h"

namespace cs {

// What a header says, as `contraseg info` shows it. Filled without reading the voxel data.
struct NiftiInfo {
  std::string path;
  int version = 1;           // 1 or 2
  int ndim = 0;              // dim[0]
  int64_t dim[8] = {0};      // dim[1..ndim] used
  double pixdim[8] = {0};
  int datatype = 0;
  std::string datatype_name;
  int qform_code = 0, sform_code = 0;
  double qto_xyz[4][4] = {{0}};
  double sto_xyz[4][4] = {{0}};
  double scl_slope = 0, scl_inter = 0;
  int64_t vox_offset = 0;
  int64_t data_bytes = 0;    // nvox * bytes per voxel
};

// Largest volume accepted, in voxels over all dimensions (4 GiB of float32): anything larger is
// treated as a corrupt header rather than an allocation to attempt.
constexpr int64_t kNiftiMaxVoxels = int64_t(1) << 30;

// Reads and validates the header only (also checks that the file holds all the data the header
// announces; for .nii.gz this decompresses the stream once without keeping it). pixdim holds the
// header's values, a zero or NaN one included.
NiftiInfo read_nifti_info(const std::string& path);

// Reads volume t (the 4th dimension; 0 for 3D files) as float32. dims 5-7 must be 1.
// Throws std::runtime_error naming the file on any problem, including t outside [0, nt).
Volume read_nifti(const std::string& path, int t = 0);

// Reads every volume of the 4th dimension (one for a 3D file).
std::vector<Volume> read_nifti_all(const std::string& path);

// Writes float32 data (scl_slope 1, scl_inter 0) with v's geometry, atomically.
void write_nifti_image(const std::string& path, const Volume& v);

// Writes a label map as uint8 (datatype 2) or int16 (datatype 4): values are rounded to the
// nearest integer and must fit the type (else std::invalid_argument naming the path).
void write_nifti_label(const std::string& path, const Volume& v, int datatype = 2);

// Writes int16 values q = round((x - inter) / slope) with scl_slope = slope and scl_inter = inter,
// so that a reader gets q * slope + inter back (slope and inter as the header's float32 stores
// them). slope must be finite and non-zero as a float32, inter finite; every q must fit int16
// (else std::invalid_argument naming the path).
void write_nifti_int16_scaled(const std::string& path, const Volume& v, double slope, double inter);

// Name of a NIfTI datatype code ("UINT8", "FLOAT32", ...), "UNKNOWN(code)" otherwise.
std::string nifti_datatype_name(int datatype);

}  // namespace cs
