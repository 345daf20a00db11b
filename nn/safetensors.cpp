#include "nn/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors I/O assumes a little-endian host"
#endif

namespace cs {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("safetensors '" + path + "': " + what);
}

size_t dtype_size(const std::string& d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL") return 1;
  return 0;
}

void write_all(int fd, const void* p, size_t n, const std::string& path) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t w = ::write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail(path, std::string("write failed: ") + std::strerror(errno));
    }
    c += w;
    n -= static_cast<size_t>(w);
  }
}

std::string dir_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

void SafeTensorsWriter::add(const std::string& name, const Shape& shape, const float* data) {
  if (name.empty() || name == "__metadata__") throw std::invalid_argument("safetensors: invalid tensor name '" + name + "'");
  for (const auto& e : entries_)
    if (e.name == name) throw std::invalid_argument("safetensors: tensor '" + name + "' added twice");
  const auto n = static_cast<size_t>(shape_numel(shape));
  entries_.push_back({name, shape, std::vector<float>(data, data + n)});
}

void SafeTensorsWriter::add(const std::string& name, const Tensor& t) {
  const std::vector<float> host = t.to_vector();
  add(name, t.shape(), host.data());
}

void SafeTensorsWriter::write(const std::string& path) const {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& e : entries_) {
    const uint64_t bytes = e.data.size() * sizeof(float);
    header[e.name] = {{"dtype", "F32"}, {"shape", e.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::string text = header.dump();
  while (text.size() % 8 != 0) text.push_back(' ');  // keeps the data 8-byte aligned
  const uint64_t n = text.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));

  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, "cannot create '" + tmp + "': " + std::strerror(errno));
  try {
    write_all(fd, len, 8, path);
    write_all(fd, text.data(), text.size(), path);
    for (const auto& e : entries_) write_all(fd, e.data.data(), e.data.size() * sizeof(float), path);
    if (::fsync(fd) != 0) fail(path, std::string("fsync failed: ") + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    fail(path, std::string("close failed: ") + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    fail(path, "rename failed: " + err);
  }
  // Make the rename itself durable.
  const int dfd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

SafeTensorsReader::SafeTensorsReader(const std::string& path) : path_(path) {
  file_.open(path, std::ios::binary);
  if (!file_) fail(path, "cannot open (missing file or no permission)");
  file_.seekg(0, std::ios::end);
  const auto size = static_cast<uint64_t>(file_.tellg());
  file_.seekg(0);
  if (size < 8) fail(path, "truncated: " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  unsigned char len[8];
  file_.read(reinterpret_cast<char*>(len), 8);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(len[i]) << (8 * i);
  if (n > size - 8)
    fail(path, "truncated: header length " + std::to_string(n) + " but only " + std::to_string(size - 8) +
                   " bytes follow (or not a safetensors file)");
  std::string text(n, '\0');
  file_.read(text.data(), static_cast<std::streamsize>(n));
  data_start_ = 8 + n;
  const uint64_t data_size = size - data_start_;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    fail(path, std::string("bad JSON header: ") + e.what());
  }
  if (!header.is_object()) fail(path, "bad JSON header: not an object");
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& key = it.key();
    const auto& v = it.value();
    try {
      if (key == "__metadata__") {
        for (auto m = v.begin(); m != v.end(); ++m) metadata_[m.key()] = m.value().get<std::string>();
        continue;
      }
      Info in;
      in.dtype = v.at("dtype").get<std::string>();
      in.shape = v.at("shape").get<Shape>();
      const auto off = v.at("data_offsets").get<std::vector<uint64_t>>();
      if (off.size() != 2) fail(path, "tensor '" + key + "': data_offsets must hold 2 numbers");
      in.begin = off[0];
      in.end = off[1];
      const size_t es = dtype_size(in.dtype);
      if (es == 0) fail(path, "tensor '" + key + "': unknown dtype " + in.dtype);
      if (in.end < in.begin || in.end - in.begin != static_cast<uint64_t>(shape_numel(in.shape)) * es)
        fail(path, "tensor '" + key + "': data_offsets do not match dtype " + in.dtype + " and shape " +
                       shape_str(in.shape));
      if (in.end > data_size)
        fail(path, "truncated: tensor '" + key + "' ends at byte " + std::to_string(in.end) + " of the data, which has " +
                       std::to_string(data_size));
      infos_[key] = in;
    } catch (const nlohmann::json::exception& e) {
      fail(path, "bad JSON header entry '" + key + "': " + e.what());
    } catch (const std::invalid_argument& e) {
      fail(path, "bad JSON header entry '" + key + "': " + e.what());
    }
  }
}

std::vector<std::string> SafeTensorsReader::names() const {
  std::vector<std::string> r;
  for (const auto& kv : infos_) r.push_back(kv.first);
  return r;
}

const SafeTensorsReader::Info& SafeTensorsReader::info(const std::string& name) const {
  auto it = infos_.find(name);
  if (it == infos_.end()) fail(path_, "no tensor named '" + name + "'");
  return it->second;
}

std::vector<char> SafeTensorsReader::read_bytes(const Info& in) const {
  std::vector<char> b(in.end - in.begin);
  file_.clear();
  file_.seekg(static_cast<std::streamoff>(data_start_ + in.begin));
  file_.read(b.data(), static_cast<std::streamsize>(b.size()));
  if (!file_) fail(path_, "read error");
  return b;
}

std::vector<double> SafeTensorsReader::read_doubles(const std::string& name) const {
  const Info& in = info(name);
  const std::vector<char> b = read_bytes(in);
  const size_t n = static_cast<size_t>(shape_numel(in.shape));
  std::vector<double> r(n);
  auto convert = [&](auto tag) {
    using T = decltype(tag);
    for (size_t i = 0; i < n; ++i) {
      T x;
      std::memcpy(&x, b.data() + i * sizeof(T), sizeof(T));
      r[i] = static_cast<double>(x);
    }
  };
  if (in.dtype == "F32") convert(float{});
  else if (in.dtype == "F64") convert(double{});
  else if (in.dtype == "I32") convert(int32_t{});
  else if (in.dtype == "I64") convert(int64_t{});
  else fail(path_, "tensor '" + name + "' has dtype " + in.dtype + ", cannot convert to floating point");
  return r;
}

std::vector<float> SafeTensorsReader::read_floats(const std::string& name) const {
  const Info& in = info(name);
  if (in.dtype == "F32") {
    const std::vector<char> b = read_bytes(in);
    std::vector<float> r(b.size() / sizeof(float));
    std::memcpy(r.data(), b.data(), b.size());
    return r;
  }
  const std::vector<double> d = read_doubles(name);
  return std::vector<float>(d.begin(), d.end());
}

void SafeTensorsReader::read_into(const std::string& name, Tensor& dst) const {
  const Info& in = info(name);
  if (in.dtype != "F32") fail(path_, "tensor '" + name + "' has dtype " + in.dtype + ", expected F32");
  if (in.shape != dst.shape())
    fail(path_, "tensor '" + name + "' has shape " + shape_str(in.shape) + " in the file but " +
                    shape_str(dst.shape()) + " in the model");
  const std::vector<float> v = read_floats(name);
  dst.copy_from(Tensor::from_vector(dst.shape(), v));
}

}  // namespace cs
