#include "nn/safetensors.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "autograd/atomic_file.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors I/O assumes a little-endian host"
#endif

namespace cs {
namespace {

using Json = nlohmann::json;
using Infos = std::map<std::string, SafeTensorsReader::Info>;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("safetensors '" + path + "': " + what);
}

[[noreturn]] void fail_tensor(const std::string& path, const std::string& name, const std::string& what) {
  fail(path, "tensor '" + name + "': " + what);
}

size_t dtype_size(const std::string& d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL") return 1;
  return 0;
}

// zlib takes 32-bit lengths: feed big buffers in pieces.
uLong crc_update(uLong crc, const void* p, size_t n) {
  const auto* b = static_cast<const Bytef*>(p);
  constexpr size_t kPiece = 1u << 30;
  while (n > 0) {
    const size_t k = std::min(n, kPiece);
    crc = ::crc32(crc, b, static_cast<uInt>(k));
    b += k;
    n -= k;
  }
  return crc;
}

std::string hex8(uLong crc) {
  char s[9];
  std::snprintf(s, sizeof s, "%08lx", crc & 0xffffffffUL);
  return s;
}

bool is_hex8(const std::string& s) {
  return s.size() == 8 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// The header as the writer lays it out; without "crc32" it is also the checksummed canonical form.
Json header_json(const Infos& infos, const std::map<std::string, std::string>& metadata) {
  Json h = Json::object();
  for (const auto& [name, in] : infos)
    h[name] = {{"dtype", in.dtype}, {"shape", in.shape}, {"data_offsets", {in.begin, in.end}}};
  Json meta = Json::object();
  for (const auto& [k, v] : metadata)
    if (k != kChecksumKey) meta[k] = v;
  h["__metadata__"] = meta;
  return h;
}

uLong canonical_header_crc(const Infos& infos, const std::map<std::string, std::string>& metadata) {
  const std::string canonical = header_json(infos, metadata).dump();
  return crc_update(::crc32(0L, Z_NULL, 0), canonical.data(), canonical.size());
}

// A value for an error message: numbers and short strings as written, containers by their type
// only (dumping them recurses as deep as the nesting, which a damaged header makes unbounded).
std::string brief(const Json& v) {
  if (v.is_structured()) return "(" + std::string(v.type_name()) + ")";
  const std::string s = v.dump();
  return s.size() <= 40 ? s : s.substr(0, 40) + "...";
}

// A JSON non-negative integer literal (nlohmann parses those as unsigned; negatives and
// fractions are other types, so nothing wraps around).
bool as_uint(const Json& v, uint64_t& out) {
  if (!v.is_number_unsigned()) return false;
  out = v.get<uint64_t>();
  return true;
}

Shape parse_shape(const Json& v, const std::string& path, const std::string& name, uint64_t& numel) {
  if (!v.is_array()) fail_tensor(path, name, "shape is not an array");
  Shape shape;
  numel = 1;
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  for (const auto& d : v) {
    uint64_t dim = 0;
    if (!as_uint(d, dim)) fail_tensor(path, name, "shape entry " + brief(d) + " is not a non-negative integer");
    // Every partial product must fit int64_t, as Shape arithmetic (shape_numel) needs.
    if (dim > kMax || (dim != 0 && numel > kMax / dim))
      fail_tensor(path, name, "shape: element count overflows at dimension " + std::to_string(shape.size()) + " (" +
                                  std::to_string(dim) + ")");
    numel *= dim;
    shape.push_back(static_cast<int64_t>(dim));
  }
  return shape;
}

SafeTensorsReader::Info parse_entry(const Json& v, const std::string& path, const std::string& name,
                                    uint64_t data_size) {
  if (!v.is_object()) fail_tensor(path, name, "header entry is not an object");
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!v.contains(field)) fail_tensor(path, name, std::string("header entry has no '") + field + "'");
  SafeTensorsReader::Info in;
  if (!v["dtype"].is_string()) fail_tensor(path, name, "dtype is not a string");
  in.dtype = v["dtype"].get<std::string>();
  const uint64_t es = dtype_size(in.dtype);
  if (es == 0) fail_tensor(path, name, "unknown dtype '" + in.dtype + "'");
  uint64_t numel = 0;
  in.shape = parse_shape(v["shape"], path, name, numel);
  if (numel > std::numeric_limits<uint64_t>::max() / es)
    fail_tensor(path, name, "shape " + shape_str(in.shape) + ": byte count overflows");
  const Json& off = v["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !as_uint(off[0], in.begin) || !as_uint(off[1], in.end))
    fail_tensor(path, name, "data_offsets must be 2 non-negative integers [begin, end]");
  const std::string offsets = "data_offsets [" + std::to_string(in.begin) + ", " + std::to_string(in.end) + "]";
  if (in.end < in.begin) fail_tensor(path, name, offsets + " end before begin");
  if (in.end > data_size)
    fail(path, "truncated: tensor '" + name + "' ends at byte " + std::to_string(in.end) + " of the data, which has " +
                   std::to_string(data_size));
  if (in.end - in.begin != numel * es)
    fail_tensor(path, name, offsets + " hold " + std::to_string(in.end - in.begin) +
                                " bytes, but dtype " + in.dtype + " and shape " + shape_str(in.shape) + " need " +
                                std::to_string(numel * es));
  return in;
}

std::map<std::string, std::string> parse_metadata(const Json& v, const std::string& path) {
  if (!v.is_object()) fail(path, "__metadata__ is not an object");
  std::map<std::string, std::string> m;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it.value().is_string()) fail(path, "__metadata__ value of '" + it.key() + "' is not a string");
    m[it.key()] = it.value().get<std::string>();
  }
  return m;
}

std::string lookup(const std::map<std::string, std::string>& m, const std::string& key) {
  const auto it = m.find(key);
  return it == m.end() ? "" : it->second;
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

void SafeTensorsWriter::set_metadata(const std::string& key, const std::string& value) {
  if (key == kChecksumKey)
    throw std::invalid_argument("safetensors: metadata key 'crc32' is reserved for the checksum");
  metadata_[key] = value;
}

void SafeTensorsWriter::write(const std::string& path) const {
  Infos infos;
  uint64_t offset = 0;
  for (const auto& e : entries_) {
    const uint64_t bytes = e.data.size() * sizeof(float);
    infos[e.name] = {"F32", e.shape, offset, offset + bytes};
    offset += bytes;
  }
  uLong crc = canonical_header_crc(infos, metadata_);
  for (const auto& e : entries_) crc = crc_update(crc, e.data.data(), e.data.size() * sizeof(float));
  std::map<std::string, std::string> metadata = metadata_;
  metadata[kChecksumKey] = hex8(crc);
  Json header = header_json(infos, {});
  header["__metadata__"] = metadata;
  std::string text = header.dump();
  while (text.size() % 8 != 0) text.push_back(' ');  // keeps the data 8-byte aligned
  const uint64_t n = text.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));

  write_file_atomic(path, [&](std::FILE* f) {
    std::fwrite(len, 1, 8, f);
    std::fwrite(text.data(), 1, text.size(), f);
    for (const auto& e : entries_) std::fwrite(e.data.data(), sizeof(float), e.data.size(), f);
  });
}

SafeTensorsReader::SafeTensorsReader(const std::string& path) : path_(path) {
  file_.open(path, std::ios::binary);
  if (!file_) fail(path, "cannot open (missing file or no permission)");
  file_.seekg(0, std::ios::end);
  const std::streamoff end = file_.tellg();
  if (end < 0) fail(path, "cannot read (not a regular file?)");
  const auto size = static_cast<uint64_t>(end);
  file_.seekg(0);
  if (size < 8) fail(path, "truncated: " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  unsigned char len[8];
  if (!file_.read(reinterpret_cast<char*>(len), 8)) fail(path, "read error in the header length");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(len[i]) << (8 * i);
  // Bounds first: the header is allocated only once its length is plausible.
  if (n > size - 8)
    fail(path, "truncated: header length " + std::to_string(n) + " but only " + std::to_string(size - 8) +
                   " bytes follow (or not a safetensors file)");
  if (n > kMaxHeaderBytes)
    fail(path, "header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(kMaxHeaderBytes) +
                   " bytes (damaged or not a safetensors file)");
  if (n < 2) fail(path, "header length " + std::to_string(n) + " is too small for a JSON object");
  std::string text(n, '\0');
  if (!file_.read(text.data(), static_cast<std::streamsize>(n))) fail(path, "read error in the header");
  data_start_ = 8 + n;
  const uint64_t data_size = size - data_start_;
  parse_header(text, data_size);
  check_no_overlap();
  verify_checksum(data_size);
}

void SafeTensorsReader::parse_header(const std::string& text, uint64_t data_size) {
  // JSON text holds no raw NUL, but the parser would take one for the end of the input and
  // ignore what follows: a damaged byte must not pass as padding.
  const auto nul = text.find('\0');
  if (nul != std::string::npos) fail(path_, "bad JSON header: NUL byte at file offset " + std::to_string(8 + nul));
  Json header;
  try {
    header = Json::parse(text);
  } catch (const Json::exception& e) {
    fail(path_, std::string("bad JSON header: ") + e.what());
  }
  if (!header.is_object()) fail(path_, "bad JSON header: not an object");
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__")
      metadata_ = parse_metadata(it.value(), path_);
    else
      infos_[it.key()] = parse_entry(it.value(), path_, it.key(), data_size);
  }
}

void SafeTensorsReader::check_no_overlap() const {
  std::vector<std::pair<std::string, Info>> spans;
  for (const auto& kv : infos_)
    if (kv.second.end > kv.second.begin) spans.push_back(kv);  // empty tensors hold no byte
  std::sort(spans.begin(), spans.end(), [](const auto& a, const auto& b) { return a.second.begin < b.second.begin; });
  auto range = [](const Info& in) { return "[" + std::to_string(in.begin) + ", " + std::to_string(in.end) + "]"; };
  for (size_t i = 1; i < spans.size(); ++i) {
    const auto& [name, in] = spans[i];
    const auto& [before_name, before] = spans[i - 1];
    if (in.begin < before.end)
      fail_tensor(path_, name, "data_offsets " + range(in) + " overlap those of tensor '" + before_name + "' " +
                                   range(before));
  }
}

void SafeTensorsReader::verify_checksum(uint64_t data_size) {
  const auto it = metadata_.find(kChecksumKey);
  if (it == metadata_.end()) {
    if (lookup(metadata_, "format") != "contraseg-checkpoint") return;  // another tool's file
    const std::string version = lookup(metadata_, "version");
    if (version == "1")
      fail(path_, "contraseg checkpoint version 1 carries no checksum and cannot be verified; "
                  "re-create it with this contraseg (version 2 checkpoints are checksummed)");
    fail(path_, "contraseg checkpoint (version '" + version +
                    "') without its checksum (metadata 'crc32'): damaged file");
  }
  if (!is_hex8(it->second))
    fail(path_, "checksum mismatch (damaged file): metadata 'crc32' = '" + it->second + "' is not 8 hex digits");
  uLong crc = canonical_header_crc(infos_, metadata_);
  std::vector<char> buf(std::min<uint64_t>(data_size, 1u << 20));
  file_.clear();
  file_.seekg(static_cast<std::streamoff>(data_start_));
  for (uint64_t left = data_size; left > 0;) {
    const size_t k = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
    if (!file_.read(buf.data(), static_cast<std::streamsize>(k))) fail(path_, "read error in the data");
    crc = crc_update(crc, buf.data(), k);
    left -= k;
  }
  if (hex8(crc) != it->second)
    fail(path_, "checksum mismatch (damaged file): stored crc32 " + it->second + ", computed " + hex8(crc));
  verified_ = true;
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
  std::vector<char> b(in.end - in.begin);  // bounded by the file size (checked on construction)
  file_.clear();
  file_.seekg(static_cast<std::streamoff>(data_start_ + in.begin));
  file_.read(b.data(), static_cast<std::streamsize>(b.size()));
  if (!file_) fail(path_, "read error");
  return b;
}

std::vector<double> SafeTensorsReader::read_doubles(const std::string& name) const {
  const Info& in = info(name);
  const std::vector<char> b = read_bytes(in);
  std::vector<double> r;
  auto convert = [&](auto tag) {
    using T = decltype(tag);
    r.resize(b.size() / sizeof(T));
    for (size_t i = 0; i < r.size(); ++i) {
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
    if (!b.empty()) std::memcpy(r.data(), b.data(), b.size());  // an empty vector's data() may be null
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
