#pragma once
// The safetensors file format (readable by PyTorch / numpy users with the `safetensors` package):
//   8 bytes   little-endian uint64 N = header length
//   N bytes   JSON: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//                    "__metadata__": {"key": "value", ...}}  (padded with spaces to 8 bytes)
//   rest      raw little-endian tensor data; offsets are relative to the start of this part
// Writing is atomic (autograd/atomic_file.h): a temporary file beside the target, fsync, rename.
//
// Integrity: the writer stores __metadata__["crc32"] = 8 lowercase hex digits, the CRC-32 (zlib)
// of the canonical header followed by the whole data part. The canonical header is the compact
// JSON dump (keys sorted, no spaces) of {"<name>": {"data_offsets": [b, e], "dtype": .., "shape":
// [..]}, ..., "__metadata__": {every key but "crc32"}} rebuilt from the parsed entries, so any
// change to a value the reader uses (names, dtypes, shapes, offsets, metadata) or to a data byte
// fails the check. CRC-32 because it catches random damage (bad disk, truncation, a partial or
// interleaved write) at GB/s and zlib is already linked; it is no defence against deliberate
// tampering (that needs a cryptographic hash such as SHA-256, which we do not depend on).
// The reader verifies the checksum of every file that carries one. A file whose metadata "format"
// is "contraseg-checkpoint" must carry one; files from other tools (PyTorch's safetensors) carry
// none and are read unverified.
//
// Before allocating or reading anything the reader checks the header against the file: N in
// [2, min(file size - 8, kMaxHeaderBytes)], every entry a known dtype, non-negative dims whose
// element count (times the dtype size) does not overflow, data_offsets [begin, end] with begin <=
// end <= data size and end - begin == elements * dtype size, and no two tensors sharing a byte.
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace cs {

// Same limit as the reference implementation: a bigger header is damage, not a model.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kChecksumKey = "crc32";

class SafeTensorsWriter {
 public:
  // Adds a float32 tensor; `data` (host memory) is copied now.
  void add(const std::string& name, const Shape& shape, const float* data);
  void add(const std::string& name, const Tensor& t);  // any device
  // "crc32" is reserved: the writer computes it.
  void set_metadata(const std::string& key, const std::string& value);
  // Throws std::runtime_error naming the path on any I/O failure.
  void write(const std::string& path) const;

 private:
  struct Entry {
    std::string name;
    Shape shape;
    std::vector<float> data;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Reads and checks the header on construction, then verifies the checksum (reading the data part
// once, in chunks); reads the data of one tensor on request. Errors (std::runtime_error) name the
// file and the problem; a checksum failure says "checksum mismatch (damaged file)".
class SafeTensorsReader {
 public:
  struct Info {
    std::string dtype;  // "F32", "F64", "I32", "I64", ...
    Shape shape;
    uint64_t begin = 0, end = 0;  // byte offsets inside the data part
  };
  explicit SafeTensorsReader(const std::string& path);

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool verified() const { return verified_; }  // a checksum was present and matched
  std::vector<std::string> names() const;  // sorted
  bool has(const std::string& name) const { return infos_.count(name) > 0; }
  const Info& info(const std::string& name) const;  // throws naming the missing tensor
  // The values of a F32, F64, I32 or I64 tensor, converted to float / double.
  std::vector<float> read_floats(const std::string& name) const;
  std::vector<double> read_doubles(const std::string& name) const;
  // Copies a F32 tensor into `dst` (any device); its shape must equal dst's.
  void read_into(const std::string& name, Tensor& dst) const;

 private:
  void parse_header(const std::string& text, uint64_t data_size);
  void check_no_overlap() const;
  void verify_checksum(uint64_t data_size);
  std::vector<char> read_bytes(const Info& in) const;
  std::string path_;
  uint64_t data_start_ = 0;
  bool verified_ = false;
  std::map<std::string, Info> infos_;
  std::map<std::string, std::string> metadata_;
  mutable std::ifstream file_;
};

}  // namespace cs
