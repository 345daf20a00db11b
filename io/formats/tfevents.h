#pragma once
// TensorBoard event files (events.out.tfevents.*), written by the project itself: a sequence of
// records, each
//   uint64 length | uint32 masked CRC-32C of the length | data | uint32 masked CRC-32C of the data
// (little-endian; masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8), whose data is one Event
// protobuf message: wall_time (field 1, double), step (2, int64), and either file_version (3,
// "brain.Event:2", the first record) or a Summary (5) of Values, each a tag (1) with a
// simple_value (2, float) or an Image (4: height 1, width 2, colorspace 3, encoded PNG 4).
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace cs {

// CRC-32C (Castagnoli), as the record format uses it.
uint32_t crc32c(const void* data, size_t n);

// One record around `data`.
std::string tf_record(const std::string& data);

// The data of every whole record of an event file, each checked against its CRCs. A truncated last
// record (a writer killed mid-record) ends the list; a record whose CRC does not match throws
// std::runtime_error naming the file and the record's offset.
std::vector<std::string> read_tf_records(const std::string& path);

// Appends events to DIR/events.out.tfevents.<seconds>.<host>.<pid> (a new file per writer), each record
// flushed as it is written so that a killed run keeps every whole event.
class EventWriter {
 public:
  // Throws std::runtime_error naming the file when it cannot be created.
  explicit EventWriter(const std::string& dir);
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  void scalar(const std::string& tag, int64_t step, double value);
  // png: an encoded PNG of height x width pixels, RGB.
  void image(const std::string& tag, int64_t step, const std::string& png, int height, int width);
  const std::string& path() const { return path_; }

 private:
  void write_event(int64_t step, const std::string& fields);
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace cs
