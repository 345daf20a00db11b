#include "io/formats/nifti.h"

#include <nifti2_io.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "autograd/atomic_file.h"

namespace cs {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_gz_name(const std::string& path) { return ends_with(path, ".nii.gz"); }

void check_name(const std::string& path) {
  if (!ends_with(path, ".nii") && !ends_with(path, ".nii.gz"))
    fail(path, "not a NIfTI file name (expected .nii or .nii.gz)");
}

// The library reports through stderr when its debug level is above 0; errors reach the caller as
// exceptions instead.
void quiet_library() {
  static std::once_flag once;
  std::call_once(once, [] { nifti_set_debug_level(0); });
}

struct NimDeleter {
  void operator()(nifti_image* p) const { nifti_image_free(p); }
};
using NimPtr = std::unique_ptr<nifti_image, NimDeleter>;

// Bytes per voxel of the datatypes read into float32; 0 for anything else.
int supported_bytes(int dt) {
  switch (dt) {
    case DT_UINT8: case DT_INT8: return 1;
    case DT_INT16: case DT_UINT16: return 2;
    case DT_INT32: case DT_UINT32: case DT_FLOAT32: return 4;
    case DT_INT64: case DT_UINT64: case DT_FLOAT64: return 8;
    default: return 0;
  }
}

// ---- raw header bytes (first 540 bytes of the uncompressed stream).

struct RawHeader {
  unsigned char b[540];
  size_t n = 0;
  bool swapped = false;

  template <typename T>
  T get(size_t off) const {
    T v;
    std::memcpy(&v, b + off, sizeof(T));
    if (swapped) {
      unsigned char* p = reinterpret_cast<unsigned char*>(&v);
      for (size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(p[i], p[sizeof(T) - 1 - i]);
    }
    return v;
  }
};

// A byte stream over the decompressed file (.nii.gz) or the file itself (.nii).
class ByteStream {
 public:
  explicit ByteStream(const std::string& path) : path_(path), gz_(is_gz_name(path)) {
    if (gz_) {
      g_ = gzopen(path.c_str(), "rb");
      if (g_) gzbuffer(g_, 1 << 17);
    } else {
      f_ = std::fopen(path.c_str(), "rb");
    }
    if (!g_ && !f_) fail(path, "cannot open");
  }
  ~ByteStream() {
    if (g_) gzclose(g_);
    if (f_) std::fclose(f_);
  }
  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;

  // Reads up to n bytes; fewer only at the end of the stream.
  size_t read(void* dst, size_t n) {
    if (!gz_) return std::fread(dst, 1, n, f_);
    const int got = gzread(g_, dst, static_cast<unsigned>(n));
    if (got < 0) {
      int err = 0;
      const std::string m = gzerror(g_, &err);
      fail(path_, "corrupt gzip stream (" + m + ")");
    }
    return static_cast<size_t>(got);
  }

 private:
  std::string path_;
  bool gz_;
  gzFile g_ = nullptr;
  FILE* f_ = nullptr;
};

// Reads the first bytes of the (decompressed) file.
void read_head(const std::string& path, RawHeader& h) {
  std::memset(h.b, 0, sizeof(h.b));
  ByteStream in(path);
  h.n = in.read(h.b, sizeof(h.b));
}

struct DataScan {
  int64_t have = 0;        // bytes available, counted up to the bytes needed
  int64_t nonfinite = 0;   // NaN or Inf values (float datatypes only)
  int64_t first_bad = -1;  // voxel index of the first one
};

// Checks that the file holds vox_offset + data_bytes bytes and, for float data, counts NaN and
// Inf values. This is needed because the NIfTI library silently replaces them by 0 on reading.
// Reads at most the bytes needed, so a compressed file claiming a huge size costs no more than
// its real content.
template <typename F>
void count_nonfinite(const unsigned char* p, size_t n, bool swapped, int64_t base, DataScan& s) {
  for (size_t i = 0; i < n; ++i) {
    unsigned char b[sizeof(F)];
    std::memcpy(b, p + i * sizeof(F), sizeof(F));
    if (swapped) std::reverse(b, b + sizeof(F));
    F v;
    std::memcpy(&v, b, sizeof(F));
    if (!std::isfinite(v) && s.nonfinite++ == 0) s.first_bad = base + static_cast<int64_t>(i);
  }
}

DataScan scan_data(const std::string& path, const NiftiInfo& info, bool swapped) {
  DataScan s;
  const int64_t need = info.vox_offset + info.data_bytes;
  const bool is_float = info.datatype == DT_FLOAT32 || info.datatype == DT_FLOAT64;
  if (!is_gz_name(path) && !is_float) {
    std::error_code ec;
    const auto sz = std::filesystem::file_size(path, ec);
    if (ec) fail(path, "cannot stat: " + ec.message());
    s.have = std::min<int64_t>(static_cast<int64_t>(sz), need);
    return s;
  }
  ByteStream in(path);
  const size_t elem = info.datatype == DT_FLOAT64 ? 8 : 4;
  std::vector<unsigned char> buf(1 << 20);  // a multiple of every element size
  // skip the header and extensions
  while (s.have < info.vox_offset) {
    const size_t want = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(buf.size()), info.vox_offset - s.have));
    const size_t got = in.read(buf.data(), want);
    s.have += static_cast<int64_t>(got);
    if (got < want) return s;
  }
  int64_t voxel = 0;
  while (s.have < need) {
    const size_t want = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(buf.size()), need - s.have));
    const size_t got = in.read(buf.data(), want);
    s.have += static_cast<int64_t>(got);
    if (is_float) {
      const size_t n = got / elem;
      if (elem == 4)
        count_nonfinite<float>(buf.data(), n, swapped, voxel, s);
      else
        count_nonfinite<double>(buf.data(), n, swapped, voxel, s);
      voxel += static_cast<int64_t>(n);
    }
    if (got < want) break;
  }
  return s;
}

std::string i2s(int64_t v) { return std::to_string(v); }

// Parses and validates the header fields that decide how much data is read and where.
NiftiInfo parse_header(const std::string& path, RawHeader& h) {
  if (h.n == 0) fail(path, "empty file");
  if (h.n < 348) fail(path, "too short for a NIfTI header (" + i2s(static_cast<int64_t>(h.n)) + " bytes)");
  NiftiInfo info;
  info.path = path;
  int32_t sz;
  std::memcpy(&sz, h.b, 4);
  const int32_t sz_swapped = static_cast<int32_t>(__builtin_bswap32(static_cast<uint32_t>(sz)));
  if (sz == 348 || sz == 540) {
    h.swapped = false;
  } else if (sz_swapped == 348 || sz_swapped == 540) {
    h.swapped = true;
    sz = sz_swapped;
  } else {
    fail(path, "not a NIfTI file (header size field is " + i2s(sz) + ", expected 348 or 540)");
  }
  info.version = sz == 348 ? 1 : 2;

  int64_t dim[8];
  if (info.version == 1) {
    const char* magic = reinterpret_cast<const char*>(h.b + 344);
    if (std::memcmp(magic, "ni1\0", 4) == 0)
      fail(path, "two-file NIfTI-1 (.hdr/.img pair) is not supported; convert it to .nii");
    if (std::memcmp(magic, "n+1\0", 4) != 0) fail(path, "bad NIfTI-1 magic (expected \"n+1\")");
    for (int i = 0; i < 8; ++i) dim[i] = h.get<int16_t>(40 + 2 * i);
    info.datatype = h.get<int16_t>(70);
    for (int i = 0; i < 8; ++i) info.pixdim[i] = h.get<float>(76 + 4 * i);
    const double off = h.get<float>(108);
    if (!std::isfinite(off) || off < 348 || off > 1e15)
      fail(path, "bad vox_offset " + std::to_string(off) + " (must be at least 348)");
    info.vox_offset = static_cast<int64_t>(off);
    info.scl_slope = h.get<float>(112);
    info.scl_inter = h.get<float>(116);
  } else {
    if (h.n < 540) fail(path, "too short for a NIfTI-2 header (" + i2s(static_cast<int64_t>(h.n)) + " bytes)");
    const char* magic = reinterpret_cast<const char*>(h.b + 4);
    if (std::memcmp(magic, "ni2\0", 4) == 0)
      fail(path, "two-file NIfTI-2 (.hdr/.img pair) is not supported; convert it to .nii");
    if (std::memcmp(magic, "n+2\0\r\n\032\n", 8) != 0) fail(path, "bad NIfTI-2 magic (expected \"n+2\")");
    for (int i = 0; i < 8; ++i) dim[i] = h.get<int64_t>(16 + 8 * i);
    info.datatype = h.get<int16_t>(12);
    for (int i = 0; i < 8; ++i) info.pixdim[i] = h.get<double>(104 + 8 * i);
    info.vox_offset = h.get<int64_t>(168);
    if (info.vox_offset < 540 || info.vox_offset > (int64_t(1) << 50))
      fail(path, "bad vox_offset " + i2s(info.vox_offset) + " (must be at least 540)");
    info.scl_slope = h.get<double>(176);
    info.scl_inter = h.get<double>(184);
  }

  // dims: dim[0] counts the used dimensions; each used one must be positive.
  if (dim[0] < 1 || dim[0] > 7) fail(path, "bad dim[0] = " + i2s(dim[0]) + " (must be 1..7)");
  info.ndim = static_cast<int>(dim[0]);
  info.dim[0] = dim[0];
  int64_t nvox = 1;
  for (int i = 1; i < 8; ++i) {
    const int64_t d = i <= info.ndim ? dim[i] : 1;
    if (d < 1) fail(path, "bad dim[" + i2s(i) + "] = " + i2s(d) + " (must be positive)");
    if (d > kNiftiMaxVoxels || nvox > kNiftiMaxVoxels / d)
      fail(path, "absurd dimensions (more than " + i2s(kNiftiMaxVoxels) + " voxels)");
    nvox *= d;
    info.dim[i] = d;
  }
  // A zero or non-finite pixdim[1..3] is decided when the volume is read (voxel_size): the sform
  // may give the spacing, and `info` still shows the header as it is.

  // datatype
  const int bytes = supported_bytes(info.datatype);
  info.datatype_name = nifti_datatype_name(info.datatype);
  if (bytes == 0) {
    std::string why = "unsupported datatype " + info.datatype_name + " (" + i2s(info.datatype) + ")";
    if (info.datatype == DT_RGB24 || info.datatype == DT_RGBA32)
      why += ": colour volumes are not medical intensity images";
    else if (info.datatype == DT_COMPLEX64 || info.datatype == DT_COMPLEX128 || info.datatype == DT_COMPLEX256)
      why += ": complex data has no single intensity";
    fail(path, why);
  }
  info.data_bytes = nvox * bytes;

  // scaling, as the NIfTI standard (and nibabel) reads it
  if (info.scl_slope == 0 || !std::isfinite(info.scl_slope)) {
    info.scl_slope = 0;
    info.scl_inter = 0;
  } else if (!std::isfinite(info.scl_inter)) {
    fail(path, "valid scl_slope but non-finite scl_inter");
  }
  return info;
}

// The qform and sform codes and matrices the library derived, into a NiftiInfo or a Volume.
template <typename Geometry>
void copy_forms(const nifti_image& nim, Geometry& g) {
  g.qform_code = nim.qform_code;
  g.sform_code = nim.sform_code;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) {
      g.qto_xyz[r][c] = nim.qto_xyz.m[r][c];
      g.sto_xyz[r][c] = nim.sto_xyz.m[r][c];
    }
}

// Validated header plus the library's view of it (no voxel data read yet).
NimPtr open_validated(const std::string& path, NiftiInfo& info) {
  quiet_library();
  check_name(path);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail(path, "no such file");
  if (!std::filesystem::is_regular_file(path, ec)) fail(path, "not a regular file");
  RawHeader h;
  read_head(path, h);
  info = parse_header(path, h);

  const int64_t need = info.vox_offset + info.data_bytes;
  const DataScan scan = scan_data(path, info, h.swapped);
  const int64_t have = scan.have;
  if (have < need)
    fail(path, std::string("truncated: the header announces ") + i2s(info.data_bytes) + " bytes of data at offset " +
                   i2s(info.vox_offset) + " but the " + (is_gz_name(path) ? "decompressed " : "") + "file holds " +
                   i2s(have) + " bytes");
  if (scan.nonfinite > 0) {
    const int64_t vol = info.dim[1] * info.dim[2] * info.dim[3];
    const int64_t i = scan.first_bad % vol, t = scan.first_bad / vol;
    fail(path, i2s(scan.nonfinite) + " NaN or infinite voxel" + (scan.nonfinite == 1 ? "" : "s") + " (first at x=" +
                   i2s(i % info.dim[1]) + " y=" + i2s(i / info.dim[1] % info.dim[2]) + " z=" + i2s(i / info.dim[1] / info.dim[2]) +
                   (info.dim[4] > 1 ? " t=" + i2s(t) : "") + ")");
  }

  NimPtr nim(nifti_image_read(path.c_str(), 0));
  if (!nim) fail(path, "the NIfTI library rejected the header");
  // Our parse and the library's must agree on everything that sizes the data read.
  bool same = nim->datatype == info.datatype && nim->iname_offset == info.vox_offset && nim->ndim == info.ndim;
  for (int i = 1; i <= info.ndim && same; ++i) same = nim->dim[i] == info.dim[i];
  if (!same || nim->nbyper != supported_bytes(info.datatype) || nim->nvox * nim->nbyper != info.data_bytes)
    fail(path, "header fields are inconsistent (the NIfTI library reads them differently)");

  copy_forms(*nim, info);
  // The library replaces a zero or non-finite pixdim by 1: keep what the header says for those.
  for (int i = 1; i < 8; ++i)
    if (info.pixdim[i] != 0 && std::isfinite(info.pixdim[i])) info.pixdim[i] = nim->pixdim[i];
  return nim;
}

template <typename T>
void convert(const void* src, size_t n, double slope, double inter, float* dst) {
  const T* s = static_cast<const T*>(src);
  if (slope == 0) {
    for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(s[i]);
  } else {
    for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(static_cast<double>(s[i]) * slope + inter);
  }
}

// Writes v's geometry and `fill`ed data with the given datatype, atomically.
template <typename Fill>
void write_impl(const std::string& path, const Volume& v, int datatype, double slope, double inter, Fill fill) {
  quiet_library();
  check_name(path);
  if (v.nx <= 0 || v.ny <= 0 || v.nz <= 0)
    throw std::invalid_argument(path + ": cannot write a volume with dims " + std::to_string(v.nx) + "x" +
                                std::to_string(v.ny) + "x" + std::to_string(v.nz));
  if (v.data.size() != v.size())
    throw std::invalid_argument(path + ": volume holds " + std::to_string(v.data.size()) + " values for " +
                                std::to_string(v.nx) + "x" + std::to_string(v.ny) + "x" + std::to_string(v.nz));
  // NIfTI-1 stores the codes as int16 and the geometry as float32
  if (v.qform_code < -32768 || v.qform_code > 32767 || v.sform_code < -32768 || v.sform_code > 32767)
    throw std::invalid_argument(path + ": qform/sform codes " + std::to_string(v.qform_code) + "/" +
                                std::to_string(v.sform_code) + " do not fit a NIfTI-1 header");
  {
    const double flt = std::numeric_limits<float>::max();
    bool ok = std::fabs(v.quatern_b) <= flt && std::fabs(v.quatern_c) <= flt && std::fabs(v.quatern_d) <= flt &&
              std::fabs(v.qoffset_x) <= flt && std::fabs(v.qoffset_y) <= flt && std::fabs(v.qoffset_z) <= flt;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) ok = ok && std::fabs(v.sto_xyz[r][c]) <= flt;
    if (!ok) throw std::invalid_argument(path + ": geometry values are not finite or do not fit a NIfTI-1 header");
  }
  if (v.nx > 32767 || v.ny > 32767 || v.nz > 32767)
    throw std::invalid_argument(path + ": dims above 32767 need NIfTI-2, which this writer does not produce");
  if (!(v.dx > 0) || !(v.dy > 0) || !(v.dz > 0) || !std::isfinite(v.dx) || !std::isfinite(v.dy) ||
      !std::isfinite(v.dz))
    throw std::invalid_argument(path + ": voxel size must be positive and finite");

  const int64_t dims[8] = {3, v.nx, v.ny, v.nz, 1, 1, 1, 1};
  NimPtr nim(nifti_make_new_nim(dims, datatype, 1));
  if (!nim || !nim->data) fail(path, "cannot allocate the image");
  fill(nim->data);
  nim->dx = nim->pixdim[1] = v.dx;
  nim->dy = nim->pixdim[2] = v.dy;
  nim->dz = nim->pixdim[3] = v.dz;
  nim->scl_slope = slope;
  nim->scl_inter = inter;
  nim->qform_code = v.qform_code;
  nim->sform_code = v.sform_code;
  nim->quatern_b = v.quatern_b;
  nim->quatern_c = v.quatern_c;
  nim->quatern_d = v.quatern_d;
  nim->qoffset_x = v.qoffset_x;
  nim->qoffset_y = v.qoffset_y;
  nim->qoffset_z = v.qoffset_z;
  nim->qfac = v.qfac < 0 ? -1.0 : 1.0;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) {
      nim->qto_xyz.m[r][c] = v.qto_xyz[r][c];
      nim->sto_xyz.m[r][c] = v.sto_xyz[r][c];
    }
  nim->qto_ijk = nifti_dmat44_inverse(nim->qto_xyz);
  nim->sto_ijk = nifti_dmat44_inverse(nim->sto_xyz);
  nim->xyz_units = v.xyz_units;
  nim->time_units = v.time_units;
  std::snprintf(nim->descrip, sizeof(nim->descrip), "%s", v.descrip.c_str());

  // The temporary file is created here, not by the library, which reports a file it cannot open
  // only on stderr: the caller learns the system's reason (missing folder, a file where a folder
  // should be, no permission).
  AtomicFile file(path, is_gz_name(path) ? ".nii.gz" : ".nii");
  const std::string& tmp = file.temp_path();
  if (nifti_set_filenames(nim.get(), tmp.c_str(), 0, 1) != 0) fail(path, "cannot set the output file name");
  // Always NIfTI-1: this library writes NIfTI-2 single files as if they were .hdr/.img pairs (the
  // header is then overwritten by the data), and the verification below would reject the result.
  nim->nifti_type = NIFTI_FTYPE_NIFTI1_1;
  nifti_image_write(nim.get());  // reports nothing: verify by reading the header back
  try {
    NiftiInfo back;
    NimPtr check = open_validated(tmp, back);
    if (back.dim[1] != v.nx || back.dim[2] != v.ny || back.dim[3] != v.nz || back.datatype != datatype)
      fail(path, "written file does not read back as written");
  } catch (const std::exception& e) {
    fail(path, std::string("write failed (") + e.what() + ")");
  }
  file.commit();
}

}  // namespace

std::string nifti_datatype_name(int datatype) {
  switch (datatype) {
    case DT_BINARY: return "BINARY";
    case DT_UINT8: return "UINT8";
    case DT_INT8: return "INT8";
    case DT_INT16: return "INT16";
    case DT_UINT16: return "UINT16";
    case DT_INT32: return "INT32";
    case DT_UINT32: return "UINT32";
    case DT_INT64: return "INT64";
    case DT_UINT64: return "UINT64";
    case DT_FLOAT32: return "FLOAT32";
    case DT_FLOAT64: return "FLOAT64";
    case DT_FLOAT128: return "FLOAT128";
    case DT_COMPLEX64: return "COMPLEX64";
    case DT_COMPLEX128: return "COMPLEX128";
    case DT_COMPLEX256: return "COMPLEX256";
    case DT_RGB24: return "RGB24";
    case DT_RGBA32: return "RGBA32";
    default: return "UNKNOWN(" + std::to_string(datatype) + ")";
  }
}

NiftiInfo read_nifti_info(const std::string& path) {
  NiftiInfo info;
  open_validated(path, info);
  return info;
}

namespace {

// The voxel size along axis i (1..3): |pixdim[i]| when it is positive and finite, else the length of
// the sform's column i when the file has an sform (sform_code > 0), else an error naming the file.
// The NIfTI library reads a zero or non-finite pixdim as 1 mm, which would resample the image at a
// spacing it does not have and write outputs whose pixdim disagrees with their sform.
double voxel_size(const std::string& path, const NiftiInfo& info, int i) {
  const double p = std::fabs(info.pixdim[i]);
  if (p > 0 && std::isfinite(p)) return p;
  const std::string what = "pixdim[" + i2s(i) + "] (the voxel size along " + "xyz"[i - 1] + ") is " +
                           std::to_string(info.pixdim[i]);
  if (info.sform_code <= 0)
    fail(path, what + " and the file has no sform to take it from; set the voxel size in the header (pixdim[1..3], "
                      "e.g. nibabel's header.set_zooms) and read it again");
  const double s = std::sqrt(info.sto_xyz[0][i - 1] * info.sto_xyz[0][i - 1] +
                             info.sto_xyz[1][i - 1] * info.sto_xyz[1][i - 1] +
                             info.sto_xyz[2][i - 1] * info.sto_xyz[2][i - 1]);
  if (!(s > 0) || !std::isfinite(s))
    fail(path, what + " and the sform's column " + i2s(i - 1) + " has no length either; set the voxel size in the "
                      "header (pixdim[1..3]) and read it again");
  return s;
}

// Reads volumes [t0, t1) of a validated file (one library load for all of them).
std::vector<Volume> read_volumes(const std::string& path, int t0, int t1, bool all) {
  NiftiInfo info;
  NimPtr nim = open_validated(path, info);
  for (int i = 5; i < 8; ++i)
    if (info.dim[i] != 1)
      fail(path, "dimensions beyond the 4th are not supported (dim[" + i2s(i) + "] = " + i2s(info.dim[i]) + ")");
  const int64_t nt = info.dim[4];
  if (all) t1 = static_cast<int>(nt);
  if (t0 < 0 || t0 >= nt)
    fail(path, "volume index " + i2s(t0) + " out of range (the file has " + i2s(nt) + " volume" +
                   (nt == 1 ? "" : "s") + ")");
  if (info.dim[1] > std::numeric_limits<int>::max() || info.dim[2] > std::numeric_limits<int>::max() ||
      info.dim[3] > std::numeric_limits<int>::max())
    fail(path, "dimensions too large");

  if (nifti_image_load(nim.get()) != 0 || !nim->data) fail(path, "the NIfTI library could not read the data (a truncated or corrupt file?)");

  Volume g;  // geometry shared by every volume of the file
  g.nx = static_cast<int>(info.dim[1]);
  g.ny = static_cast<int>(info.dim[2]);
  g.nz = static_cast<int>(info.dim[3]);
  const double size[3] = {voxel_size(path, info, 1), voxel_size(path, info, 2), voxel_size(path, info, 3)};
  g.dx = static_cast<float>(size[0]);
  g.dy = static_cast<float>(size[1]);
  g.dz = static_cast<float>(size[2]);
  if (!(g.dx > 0) || !(g.dy > 0) || !(g.dz > 0) || !std::isfinite(g.dx) || !std::isfinite(g.dy) ||
      !std::isfinite(g.dz))
    fail(path, "voxel size (pixdim[1..3]) must be positive and finite as a float32");
  copy_forms(*nim, g);
  // The library derived qto_xyz from the quaternion with its own voxel size (1 for a zero pixdim):
  // where the size came from the sform instead, derive it again, so that the qform, the sform and
  // the pixdim written for outputs agree.
  if (size[0] != std::fabs(nim->dx) || size[1] != std::fabs(nim->dy) || size[2] != std::fabs(nim->dz)) {
    const nifti_dmat44 q =
        nim->qform_code > 0
            ? nifti_quatern_to_dmat44(nim->quatern_b, nim->quatern_c, nim->quatern_d, nim->qoffset_x,
                                      nim->qoffset_y, nim->qoffset_z, size[0], size[1], size[2], nim->qfac)
            : nifti_quatern_to_dmat44(0, 0, 0, 0, 0, 0, size[0], size[1], size[2], 1);
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 4; ++c) g.qto_xyz[r][c] = q.m[r][c];
  }
  g.quatern_b = nim->quatern_b;
  g.quatern_c = nim->quatern_c;
  g.quatern_d = nim->quatern_d;
  g.qoffset_x = nim->qoffset_x;
  g.qoffset_y = nim->qoffset_y;
  g.qoffset_z = nim->qoffset_z;
  g.qfac = nim->qfac < 0 ? -1.0 : 1.0;
  g.xyz_units = nim->xyz_units;
  g.time_units = nim->time_units;
  g.datatype = info.datatype;
  g.scl_slope = nim->scl_slope;
  g.scl_inter = nim->scl_inter;
  g.nifti_version = info.version;
  g.nt = static_cast<int>(nt);
  g.descrip.assign(nim->descrip, strnlen(nim->descrip, sizeof(nim->descrip)));

  std::vector<Volume> out;
  const size_t n = g.size();
  const double slope = info.scl_slope, inter = info.scl_inter;
  for (int t = t0; t < t1; ++t) {
    Volume v = g;
    v.t = t;
    v.data.resize(n);
    const unsigned char* src = static_cast<const unsigned char*>(nim->data) + static_cast<size_t>(t) * n * nim->nbyper;
    float* dst = v.data.data();
    switch (info.datatype) {
      case DT_UINT8: convert<uint8_t>(src, n, slope, inter, dst); break;
      case DT_INT8: convert<int8_t>(src, n, slope, inter, dst); break;
      case DT_INT16: convert<int16_t>(src, n, slope, inter, dst); break;
      case DT_UINT16: convert<uint16_t>(src, n, slope, inter, dst); break;
      case DT_INT32: convert<int32_t>(src, n, slope, inter, dst); break;
      case DT_UINT32: convert<uint32_t>(src, n, slope, inter, dst); break;
      case DT_INT64: convert<int64_t>(src, n, slope, inter, dst); break;
      case DT_UINT64: convert<uint64_t>(src, n, slope, inter, dst); break;
      case DT_FLOAT32: convert<float>(src, n, slope, inter, dst); break;
      case DT_FLOAT64: convert<double>(src, n, slope, inter, dst); break;
      default: fail(path, "unsupported datatype " + info.datatype_name);
    }
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; ++i)
      if (!std::isfinite(dst[i]) && bad++ == 0) first = i;
    if (bad)
      fail(path, i2s(static_cast<int64_t>(bad)) + " NaN or infinite voxel" + (bad == 1 ? "" : "s") +
                     " (first at x=" + i2s(static_cast<int64_t>(first % v.nx)) +
                     " y=" + i2s(static_cast<int64_t>(first / v.nx % v.ny)) +
                     " z=" + i2s(static_cast<int64_t>(first / v.nx / v.ny)) + (nt > 1 ? " t=" + i2s(t) : "") + ")");
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace

Volume read_nifti(const std::string& path, int t) {
  auto v = read_volumes(path, t, t + 1, false);
  return std::move(v.front());
}

std::vector<Volume> read_nifti_all(const std::string& path) { return read_volumes(path, 0, 0, true); }

void write_nifti_image(const std::string& path, const Volume& v) {
  write_impl(path, v, DT_FLOAT32, 1.0, 0.0, [&](void* dst) {
    std::memcpy(dst, v.data.data(), v.data.size() * sizeof(float));
  });
}

void write_nifti_label(const std::string& path, const Volume& v, int datatype) {
  double lo, hi;
  if (datatype == DT_UINT8) {
    lo = 0;
    hi = 255;
  } else if (datatype == DT_INT16) {
    lo = -32768;
    hi = 32767;
  } else {
    throw std::invalid_argument(path + ": labels are written as UINT8 (2) or INT16 (4), not " +
                                nifti_datatype_name(datatype));
  }
  for (float x : v.data)
    if (!(x > lo - 0.5 && x < hi + 0.5))
      throw std::invalid_argument(path + ": label value " + std::to_string(x) + " does not fit " +
                                  nifti_datatype_name(datatype));
  write_impl(path, v, datatype, 0.0, 0.0, [&](void* dst) {
    const size_t n = v.data.size();
    if (datatype == DT_UINT8) {
      auto* d = static_cast<uint8_t*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] = static_cast<uint8_t>(std::lround(v.data[i]));
    } else {
      auto* d = static_cast<int16_t*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] = static_cast<int16_t>(std::lround(v.data[i]));
    }
  });
}

void write_nifti_int16_scaled(const std::string& path, const Volume& v, double slope, double inter) {
  // Quantise with the values the header will hold, so that reading back gives q * slope + inter.
  const float s = static_cast<float>(slope), i = static_cast<float>(inter);
  if (!std::isfinite(s) || s == 0 || !std::isfinite(i))
    throw std::invalid_argument(path + ": int16 scaling needs a finite non-zero slope and a finite intercept (got " +
                                std::to_string(slope) + ", " + std::to_string(inter) + ")");
  std::vector<int16_t> q(v.data.size());
  for (size_t k = 0; k < q.size(); ++k) {
    const double x = std::round((static_cast<double>(v.data[k]) - i) / s);
    if (!(x >= -32768 && x <= 32767))
      throw std::invalid_argument(path + ": value " + std::to_string(v.data[k]) + " does not fit INT16 with slope " +
                                  std::to_string(s) + " and intercept " + std::to_string(i));
    q[k] = static_cast<int16_t>(x);
  }
  write_impl(path, v, DT_INT16, s, i, [&](void* dst) { std::memcpy(dst, q.data(), q.size() * sizeof(int16_t)); });
}

}  // namespace cs
