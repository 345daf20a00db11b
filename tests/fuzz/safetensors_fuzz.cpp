// libFuzzer entry point for the safetensors reader and the checkpoint loader: the input bytes
// become a .safetensors file, which is opened, verified, read tensor by tensor, and loaded into a
// small ParamStore (with and without optimiser state). Only std::exception is an acceptable
// outcome for bad bytes: anything else (a crash, a sanitizer report, a leak, an uncaught throw,
// an allocation past -malloc_limit_mb, a broken invariant below) is a finding.
// Built and run by scripts/fuzz.sh safetensors.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "nn/adam.h"
#include "nn/checkpoint.h"
#include "nn/params.h"
#include "nn/safetensors.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

// The tensors of the seed checkpoints (scripts/fuzz.sh writes them with these names and shapes).
cs::ParamStore& store() {
  static cs::ParamStore s;
  static const bool ready = [] {
    s.declare_param("conv.w", {3, 3, 1, 4}, cs::ParamKind::ConvWeight);
    s.declare_param("conv.b", {4}, cs::ParamKind::ConvBias);
    s.declare_buffer("conv.bn.mean", {4}, cs::ParamKind::BNMean);
    s.allocate(cs::Device::CPU);
    return true;
  }();
  (void)ready;
  return s;
}

cs::Adam& adam() {
  static cs::Adam a(store());
  return a;
}

// Every tensor the reader accepted must be readable as declared.
void read_every_tensor(const cs::SafeTensorsReader& r) {
  for (const auto& name : r.names()) {
    const auto& in = r.info(name);
    const auto numel = static_cast<size_t>(cs::shape_numel(in.shape));
    if (in.end < in.begin) __builtin_trap();
    try {
      if (r.read_floats(name).size() != numel) __builtin_trap();
      if (r.read_doubles(name).size() != numel) __builtin_trap();
    } catch (const std::exception&) {  // dtypes without a conversion
    }
    if (in.dtype == "F32") {
      cs::Tensor t = cs::Tensor::zeros(in.shape);
      r.read_into(name, t);
    }
  }
}

template <class F>
void tolerate_exceptions(F&& f) {
  try {
    f();
  } catch (const std::exception&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = fuzz::input_path("safetensors_fuzz") + ".safetensors";
  if (!fuzz::write_file(path, data, size)) return 0;
  tolerate_exceptions([&] { read_every_tensor(cs::SafeTensorsReader(path)); });
  tolerate_exceptions([&] { cs::verify_checkpoint(path); });
  tolerate_exceptions([&] { cs::load_checkpoint(path, store()); });
  tolerate_exceptions([&] {
    cs::CheckpointLoadOptions resume;
    resume.adam = &adam();
    cs::load_checkpoint(path, store(), resume);
  });
  tolerate_exceptions([&] {
    cs::CheckpointLoadOptions some;
    some.include = {"conv.b"};
    some.buffers = false;
    cs::load_checkpoint(path, store(), some);
  });
  std::remove(path.c_str());
  return 0;
}
