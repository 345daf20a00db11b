#pragma once
// The safetensors file format (readable by PyTorch / numpy users with the `safetensors` package):
//   8 bytes   little-endian uint64 N = header length
//   N bytes   JSON: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//                    "__metadata__": {"key": "value", ...}}  (padded with spaces to 8 bytes)
//   rest      raw little-endian tensor data; offsets are relative to the start of this part
// Writing is atomic: a temporary file in the same folder, fsync, then rename over the target.
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace cs {

class SafeTensorsWriter {
 public:
  // Adds a float32 tensor; `data` (host memory) is copied now.
  void add(const std::string& name, const Shape& shape, const float* data);
  void add(const std::string& name, const Tensor& t);  // any device
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
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

// Reads the header on construction (validating every entry against the file size) and the data
// of one tensor on request. Errors (std::runtime_error) name the file and the problem.
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
  std::vector<std::string> names() const;  // sorted
  bool has(const std::string& name) const { return infos_.count(name) > 0; }
  const Info& info(const std::string& name) const;  // throws naming the missing tensor
  // The values of a F32, F64, I32 or I64 tensor, converted to float / double.
  std::vector<float> read_floats(const std::string& name) const;
  std::vector<double> read_doubles(const std::string& name) const;
  // Copies a F32 tensor into `dst` (any device); its shape must equal dst's.
  void read_into(const std::string& name, Tensor& dst) const;

 private:
  std::vector<char> read_bytes(const Info& in) const;
  std::string path_;
  uint64_t data_start_ = 0;
  std::map<std::string, Info> infos_;
  std::map<std::string, std::string> metadata_;
  mutable std::ifstream file_;
};

}  // namespace cs
