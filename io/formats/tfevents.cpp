#include "io/formats/tfevents.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace cs {
namespace {

const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // the reflected polynomial
      t[i] = c;
    }
    return t;
  }();
  return table;
}

uint32_t masked(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_le(const std::string& s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(s[at + i])) << (8 * i);
  return v;
}

// Protobuf wire format: a key is (field << 3) | wire type; 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.
void varint(std::string& out, uint64_t v) {
  for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>((v & 0x7f) | 0x80));
  out.push_back(static_cast<char>(v));
}
void key(std::string& out, int field, int wire) { varint(out, static_cast<uint64_t>(field) << 3 | wire); }
void bytes_field(std::string& out, int field, const std::string& bytes) {
  key(out, field, 2);
  varint(out, bytes.size());
  out += bytes;
}
void varint_field(std::string& out, int field, uint64_t v) {
  key(out, field, 0);
  varint(out, v);
}

}  // namespace

uint32_t crc32c(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) c = crc_table()[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

std::string tf_record(const std::string& data) {
  std::string out, length;
  put_le(length, data.size(), 8);
  out = length;
  put_le(out, masked(crc32c(length.data(), 8)), 4);
  out += data;
  put_le(out, masked(crc32c(data.data(), data.size())), 4);
  return out;
}

std::vector<std::string> read_tf_records(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot be read");
  std::stringstream buf;
  buf << f.rdbuf();
  const std::string s = buf.str();
  std::vector<std::string> records;
  size_t at = 0;
  while (at + 12 <= s.size()) {
    const uint64_t n = get_le(s, at, 8);
    if (masked(crc32c(s.data() + at, 8)) != get_le(s, at + 8, 4))
      throw std::runtime_error(path + ": the length of the record at byte " + std::to_string(at) + " fails its CRC");
    if (n > s.size() || at + 12 + n + 4 > s.size()) break;  // a truncated last record
    const std::string data = s.substr(at + 12, n);
    if (masked(crc32c(data.data(), data.size())) != get_le(s, at + 12 + n, 4))
      throw std::runtime_error(path + ": the data of the record at byte " + std::to_string(at) + " fails its CRC");
    records.push_back(data);
    at += 12 + n + 4;
  }
  return records;
}

EventWriter::EventWriter(const std::string& dir) {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  path_ = dir + "/events.out.tfevents." + std::to_string(seconds) + "." + host + "." + std::to_string(getpid());
  file_ = std::fopen(path_.c_str(), "ab");
  if (!file_) throw std::runtime_error(path_ + ": cannot be created: " + std::strerror(errno));
  std::string version;
  bytes_field(version, 3, "brain.Event:2");
  write_event(0, version);
}

EventWriter::~EventWriter() {
  if (file_) std::fclose(file_);
}

void EventWriter::write_event(int64_t step, const std::string& fields) {
  const double wall =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string event;
  key(event, 1, 1);
  uint64_t bits;
  std::memcpy(&bits, &wall, 8);
  put_le(event, bits, 8);
  varint_field(event, 2, static_cast<uint64_t>(step));
  event += fields;
  const std::string record = tf_record(event);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size() || std::fflush(file_) != 0)
    throw std::runtime_error(path_ + ": cannot be written: " + std::strerror(errno));
}

void EventWriter::scalar(const std::string& tag, int64_t step, double value) {
  std::string v;
  bytes_field(v, 1, tag);
  key(v, 2, 5);
  const float x = static_cast<float>(value);
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  put_le(v, bits, 4);
  std::string summary, fields;
  bytes_field(summary, 1, v);
  bytes_field(fields, 5, summary);
  write_event(step, fields);
}

void EventWriter::image(const std::string& tag, int64_t step, const std::string& png, int height, int width) {
  std::string img, v, summary, fields;
  varint_field(img, 1, static_cast<uint64_t>(height));
  varint_field(img, 2, static_cast<uint64_t>(width));
  varint_field(img, 3, 3);  // RGB
  bytes_field(img, 4, png);
  bytes_field(v, 1, tag);
  bytes_field(v, 4, img);
  bytes_field(summary, 1, v);
  bytes_field(fields, 5, summary);
  write_event(step, fields);
}

}  // namespace cs
