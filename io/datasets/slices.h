#pragma once
// An in-memory stack of preprocessed 2D slices of one volume: what the samplers draw from.
//
// image[(z * h + y) * w + x] (float, row-major slices), label the same (uint8, may be empty for
// unlabelled volumes). `slice(z)` points at one h x w image.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace cs {

struct SliceStack {
  int z = 0, h = 0, w = 0;
  std::vector<float> image;    // [z][h][w]
  std::vector<uint8_t> label;  // [z][h][w] or empty

  SliceStack() = default;
  SliceStack(int nz, int nh, int nw, bool with_labels = false)
      : z(nz), h(nh), w(nw), image(static_cast<size_t>(nz) * nh * nw, 0.f) {
    if (nz < 0 || nh <= 0 || nw <= 0)
      throw std::invalid_argument("SliceStack: bad size " + std::to_string(nz) + "x" +
                                  std::to_string(nh) + "x" + std::to_string(nw));
    if (with_labels) label.assign(image.size(), 0);
  }

  size_t slice_size() const { return static_cast<size_t>(h) * w; }
  bool has_labels() const { return !label.empty(); }

  const float* slice(int k) const { return image.data() + check(k) * slice_size(); }
  float* slice(int k) { return image.data() + check(k) * slice_size(); }
  const uint8_t* label_slice(int k) const {
    if (label.empty()) throw std::invalid_argument("SliceStack: volume has no labels");
    return label.data() + check(k) * slice_size();
  }

 private:
  size_t check(int k) const {
    if (k < 0 || k >= z)
      throw std::out_of_range("SliceStack: slice " + std::to_string(k) + " of " + std::to_string(z));
    return static_cast<size_t>(k);
  }
};

// Slice counts of a list of stacks (what the samplers take).
inline std::vector<int> slice_counts(const std::vector<SliceStack>& stacks) {
  std::vector<int> q;
  q.reserve(stacks.size());
  for (const auto& s : stacks) q.push_back(s.z);
  return q;
}

}  // namespace cs
