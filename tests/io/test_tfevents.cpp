// TensorBoard event files (io/formats/tfevents.h): CRC-32C against its published check value, the
// records decoded field by field by a protobuf reader written here, a killed writer's truncated
// tail, and a damaged record refused.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "io/formats/tfevents.h"
#include "support/io_test_util.h"

namespace cs {
namespace {

using testing_io::TempDir;

// A protobuf message as field number -> its values (varints and fixed values as numbers in
// `numbers`, length-delimited ones as bytes in `bytes`).
struct Message {
  std::multimap<int, uint64_t> numbers;
  std::multimap<int, std::string> bytes;
};

Message decode(const std::string& s) {
  Message m;
  size_t at = 0;
  const auto varint = [&] {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      const auto b = static_cast<unsigned char>(s.at(at++));
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  while (at < s.size()) {
    const uint64_t k = varint();
    const int field = static_cast<int>(k >> 3), wire = static_cast<int>(k & 7);
    if (wire == 0) {
      m.numbers.emplace(field, varint());
    } else if (wire == 1 || wire == 5) {
      uint64_t v = 0;
      const int n = wire == 1 ? 8 : 4;
      for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(s.at(at + i))) << (8 * i);
      at += n;
      m.numbers.emplace(field, v);
    } else if (wire == 2) {
      const uint64_t n = varint();
      m.bytes.emplace(field, s.substr(at, n));
      at += n;
    } else {
      ADD_FAILURE() << "wire type " << wire;
      break;
    }
  }
  return m;
}

float as_float(uint64_t bits) {
  const auto b = static_cast<uint32_t>(bits);
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

TEST(TfEvents, Crc32cMatchesItsCheckValue) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);  // the published check value of CRC-32C
  EXPECT_EQ(crc32c("", 0), 0u);
}

TEST(TfEvents, ScalarsAndImagesDecodeFieldByField) {
  TempDir t;
  std::string path;
  {
    EventWriter w(t.path());
    w.scalar("loss", 7, 0.25);
    w.image("pictures/overlay", 9, std::string("\x89PNG fake", 9), 12, 34);
    path = w.path();
  }
  EXPECT_EQ(std::filesystem::path(path).filename().string().rfind("events.out.tfevents.", 0), 0u);
  const auto records = read_tf_records(path);
  ASSERT_EQ(records.size(), 3u);
  const Message version = decode(records[0]);
  EXPECT_EQ(version.bytes.find(3)->second, "brain.Event:2");
  EXPECT_EQ(version.numbers.count(1), 1u);  // wall time

  const Message scalar = decode(records[1]);
  EXPECT_EQ(scalar.numbers.find(2)->second, 7u);
  const Message value = decode(decode(scalar.bytes.find(5)->second).bytes.find(1)->second);
  EXPECT_EQ(value.bytes.find(1)->second, "loss");
  EXPECT_EQ(as_float(value.numbers.find(2)->second), 0.25f);

  const Message picture = decode(records[2]);
  EXPECT_EQ(picture.numbers.find(2)->second, 9u);
  const Message pv = decode(decode(picture.bytes.find(5)->second).bytes.find(1)->second);
  EXPECT_EQ(pv.bytes.find(1)->second, "pictures/overlay");
  const Message image = decode(pv.bytes.find(4)->second);
  EXPECT_EQ(image.numbers.find(1)->second, 12u);
  EXPECT_EQ(image.numbers.find(2)->second, 34u);
  EXPECT_EQ(image.numbers.find(3)->second, 3u);
  EXPECT_EQ(image.bytes.find(4)->second, std::string("\x89PNG fake", 9));
}

TEST(TfEvents, ATruncatedTailIsDroppedAndADamagedRecordRefused) {
  TempDir t;
  std::string path;
  {
    EventWriter w(t.path());
    w.scalar("a", 1, 1.0);
    w.scalar("b", 2, 2.0);
    path = w.path();
  }
  std::string bytes;
  {
    std::ifstream f(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 5);  // killed mid-record
  EXPECT_EQ(read_tf_records(path).size(), 2u);
  bytes[bytes.size() - 8] ^= 0x40;  // a bit of the last record's data
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  try {
    read_tf_records(path);
    FAIL() << "a damaged record was read";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("fails its CRC"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cs
