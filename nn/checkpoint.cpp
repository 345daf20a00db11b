#include "nn/checkpoint.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "nn/safetensors.h"

#ifndef CONTRASEG_VERSION
#define CONTRASEG_VERSION "unknown"
#endif

namespace cs {
namespace {
const std::string kAdamM = "adam.m.", kAdamV = "adam.v.";

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

bool selected(const std::string& name, const CheckpointLoadOptions& opt) {
  bool in = opt.include.empty();
  for (const auto& p : opt.include) in = in || starts_with(name, p);
  if (!in) return false;
  for (const auto& p : opt.exclude)
    if (starts_with(name, p)) return false;
  return true;
}

const std::string kFormat = "contraseg-checkpoint";

std::string meta_or_empty(const SafeTensorsReader& r, const std::string& key) {
  const auto it = r.metadata().find(key);
  return it == r.metadata().end() ? "" : it->second;
}

// Version 1 (no checksum) is already refused by the reader; newer versions may change the layout.
void check_version(const SafeTensorsReader& r) {
  if (meta_or_empty(r, "format") != kFormat) return;
  const std::string v = meta_or_empty(r, "version");
  if (v != std::to_string(kCheckpointVersion))
    throw std::runtime_error("checkpoint '" + r.path() + "': format version '" + v + "', but this contraseg reads " +
                             "version " + std::to_string(kCheckpointVersion));
}
}  // namespace

void save_checkpoint(const std::string& path, const ParamStore& store, const Adam* adam,
                     const std::map<std::string, std::string>& metadata) {
  if (!store.allocated()) throw std::logic_error("save_checkpoint: ParamStore not allocated");
  SafeTensorsWriter w;
  // One device->host copy per arena, then slices.
  const std::vector<float> P = store.param_arena().to_vector();
  for (size_t i = 0; i < store.num_params(); ++i) {
    const ParamEntry& e = store.param_entry(i);
    w.add(e.name, e.shape, P.data() + e.offset);
  }
  const std::vector<float> B = store.buffer_arena().to_vector();
  for (size_t i = 0; i < store.num_buffers(); ++i) {
    const ParamEntry& e = store.buffer_entry(i);
    w.add(e.name, e.shape, B.data() + e.offset);
  }
  for (const auto& kv : metadata) w.set_metadata(kv.first, kv.second);
  w.set_metadata("format", kFormat);
  w.set_metadata("version", std::to_string(kCheckpointVersion));
  w.set_metadata("contraseg_version", CONTRASEG_VERSION);
  if (adam) {
    if (&adam->store() != &store) throw std::invalid_argument("save_checkpoint: the optimiser belongs to another ParamStore");
    const std::vector<float> M = store.adam_m_arena().to_vector(), V = store.adam_v_arena().to_vector();
    for (size_t i = 0; i < store.num_params(); ++i) {
      const ParamEntry& e = store.param_entry(i);
      w.add(kAdamM + e.name, e.shape, M.data() + e.offset);
      w.add(kAdamV + e.name, e.shape, V.data() + e.offset);
    }
    w.set_metadata("adam_step", std::to_string(adam->step_count()));
  }
  w.write(path);
}

std::map<std::string, std::string> read_checkpoint_metadata(const std::string& path) {
  return SafeTensorsReader(path).metadata();
}

CheckpointLoadReport load_checkpoint(const std::string& path, ParamStore& store, const CheckpointLoadOptions& opt) {
  if (!store.allocated()) throw std::logic_error("load_checkpoint: ParamStore not allocated");
  SafeTensorsReader r(path);
  check_version(r);
  auto fail = [&](const std::string& m) -> void { throw std::runtime_error("checkpoint '" + path + "': " + m); };

  // 1. Every include prefix must select something in the file.
  std::vector<std::string> file_names;
  for (const auto& n : r.names())
    if (!starts_with(n, kAdamM) && !starts_with(n, kAdamV)) file_names.push_back(n);
  for (const auto& p : opt.include) {
    bool any = false;
    for (const auto& n : file_names) any = any || starts_with(n, p);
    if (!any) fail("the requested prefix '" + p + "' matches no tensor in the file");
  }

  // 2. Plan (and check) every copy before touching the store.
  struct Copy {
    std::string file_name;
    Tensor dst;
  };
  std::vector<Copy> plan;
  auto check_and_add = [&](const std::string& file_name, Tensor dst, const std::string& model_name) {
    if (!r.has(file_name)) fail("tensor '" + file_name + "' is missing from the file (model has '" + model_name + "' " +
                                shape_str(dst.shape()) + ")");
    const auto& in = r.info(file_name);
    if (in.dtype != "F32") fail("tensor '" + file_name + "' has dtype " + in.dtype + ", expected F32");
    if (in.shape != dst.shape())
      fail("shape mismatch for '" + file_name + "': file " + shape_str(in.shape) + ", model " + shape_str(dst.shape()));
    plan.push_back({file_name, dst});
  };
  for (const auto& n : file_names) {
    if (!selected(n, opt)) continue;
    if (!store.has_param(n) && !store.has_buffer(n))
      fail("tensor '" + n + "' selected from the file does not exist in the model (narrow the include list or add an "
           "exclude prefix)");
  }
  if (opt.params)
    for (size_t i = 0; i < store.num_params(); ++i) {
      const std::string& n = store.param_entry(i).name;
      if (!selected(n, opt)) continue;
      check_and_add(n, store.param_at(i), n);
      if (opt.adam) {
        check_and_add(kAdamM + n, store.adam_m_at(i), n);
        check_and_add(kAdamV + n, store.adam_v_at(i), n);
      }
    }
  if (opt.buffers)
    for (size_t i = 0; i < store.num_buffers(); ++i) {
      const std::string& n = store.buffer_entry(i).name;
      if (selected(n, opt)) check_and_add(n, store.buffer_at(i), n);
    }
  int64_t adam_step = 0;
  if (opt.adam) {
    if (&opt.adam->store() != &store) throw std::invalid_argument("load_checkpoint: the optimiser belongs to another ParamStore");
    auto it = r.metadata().find("adam_step");
    if (it == r.metadata().end()) fail("no optimiser state (metadata 'adam_step' missing): saved without Adam");
    try {
      adam_step = std::stoll(it->second);
    } catch (const std::exception&) {
      fail("metadata adam_step '" + it->second + "' is not an integer");
    }
  }

  // 3. Copy.
  CheckpointLoadReport rep;
  for (auto& c : plan) {
    r.read_into(c.file_name, c.dst);
    rep.loaded.push_back(c.file_name);
  }
  if (opt.adam) opt.adam->set_step_count(adam_step);
  rep.metadata = r.metadata();
  return rep;
}

void verify_checkpoint(const std::string& path) {
  const SafeTensorsReader r(path);  // header bounds and checksum
  if (meta_or_empty(r, "format") != kFormat)
    throw std::runtime_error("checkpoint '" + path + "': not a contraseg checkpoint (metadata 'format' is '" +
                             meta_or_empty(r, "format") + "')");
  check_version(r);
}

void save_checkpoint_rotating(const std::string& path, const std::string& previous_path, const ParamStore& store,
                              const Adam* adam, const std::map<std::string, std::string>& metadata) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    bool good = true;
    try {
      verify_checkpoint(path);
    } catch (const std::runtime_error&) {
      good = false;  // overwritten below; the previous one stays
    }
    if (good && std::rename(path.c_str(), previous_path.c_str()) != 0)
      throw std::runtime_error("checkpoint '" + path + "': cannot rename to '" + previous_path +
                               "': " + std::strerror(errno));
  }
  save_checkpoint(path, store, adam, metadata);
}

CheckpointChoice choose_checkpoint(const std::vector<std::string>& candidates) {
  CheckpointChoice c;
  bool any_exists = false;
  for (const auto& p : candidates) {
    std::error_code ec;
    if (!std::filesystem::exists(p, ec)) {
      c.rejected.push_back({p, "checkpoint '" + p + "' does not exist"});
      continue;
    }
    any_exists = true;
    try {
      verify_checkpoint(p);
      c.path = p;
      return c;
    } catch (const std::runtime_error& e) {
      c.rejected.push_back({p, e.what()});
    }
  }
  if (!any_exists) return c;
  std::string all;
  for (const auto& r : c.rejected) all += (all.empty() ? "" : "; ") + r.reason;
  throw std::runtime_error("no usable checkpoint: " + all);
}

std::vector<std::string> decoder_block_prefixes(int l) {
  if (l < 0 || l > 5) throw std::invalid_argument("decoder_block_prefixes: l = " + std::to_string(l) + " is not in 0..5");
  std::vector<std::string> r;
  for (int b = 1; b <= l; ++b) {
    r.push_back("dec_dc" + std::to_string(7 - b) + ".");
    r.push_back("dec_c" + std::to_string(6 - b) + "_");
  }
  return r;
}

}  // namespace cs
