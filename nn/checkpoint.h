#pragma once
// Checkpoints: a ParamStore (and optionally Adam's state) in one safetensors file
// (nn/safetensors.h), written atomically.
//
// Tensor names in the file:
//   <param name>          parameters, e.g. enc_c1_a.w (names: nn/unet.h)
//   <buffer name>         BN running statistics, e.g. enc_c1_a.bn.mean
//   adam.m.<param name>   Adam first moment   } only when saved with an optimiser,
//   adam.v.<param name>   Adam second moment  } for resuming
// Metadata (strings): "format" = "contraseg-checkpoint", "version" = checkpoint format version,
// "contraseg_version", "adam_step" (when saved with an optimiser), plus whatever the caller adds
// (config, split, stage, step ...).
//
// Loading picks tensors by name prefix. The stage rules of SPEC 3.1 / 4.1 become:
//   stage 2 from stage 1:  include {"enc_"}, buffers false
//   stage 3 from stage 2:  include {"enc_"} + decoder_block_prefixes(l), buffers false
//   resume:                everything, buffers true, optimiser given
#include <map>
#include <string>
#include <vector>

#include "nn/adam.h"
#include "nn/params.h"

namespace cs {

constexpr int kCheckpointVersion = 1;

void save_checkpoint(const std::string& path, const ParamStore& store, const Adam* adam = nullptr,
                     const std::map<std::string, std::string>& metadata = {});

struct CheckpointLoadOptions {
  // A tensor is loaded when its name starts with one of `include` (empty: every name) and with
  // none of `exclude`. Every include prefix must match at least one tensor of the file.
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  bool params = true;    // trainable parameters
  bool buffers = true;   // BN running statistics (SPEC 4.1: not copied between stages)
  Adam* adam = nullptr;  // restore m, v and the step count (the file must hold them)
};

struct CheckpointLoadReport {
  std::vector<std::string> loaded;  // names of the tensors copied into the store
  std::map<std::string, std::string> metadata;
};

// Copies the selected tensors into `store`. Errors (std::runtime_error / std::invalid_argument)
// name the file and the tensor: missing or truncated file, bad header, a selected tensor missing
// on either side, a shape mismatch (both shapes given), an include prefix that matches nothing.
// Nothing in the store is modified when an error is found.
CheckpointLoadReport load_checkpoint(const std::string& path, ParamStore& store,
                                     const CheckpointLoadOptions& opt = {});

std::map<std::string, std::string> read_checkpoint_metadata(const std::string& path);

// Name prefixes of decoder blocks 1..l (SPEC 1.4): block 1 = dec_dc6, dec_c5_*; block 2 =
// dec_dc5, dec_c4_*; ...; block 5 = dec_dc2, dec_c1_*.
std::vector<std::string> decoder_block_prefixes(int l);

}  // namespace cs
