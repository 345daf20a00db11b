#pragma once
// Checkpoints: a ParamStore (and optionally Adam's state) in one safetensors file
// (nn/safetensors.h), written atomically and checksummed (CRC-32 over header and data, verified
// on every load: a damaged file is an error, never weights to train on).
//
// Tensor names in the file:
//   <param name>          parameters, e.g. enc_c1_a.w (names: nn/unet.h)
//   <buffer name>         BN running statistics, e.g. enc_c1_a.bn.mean
//   adam.m.<param name>   Adam first moment   } only when saved with an optimiser,
//   adam.v.<param name>   Adam second moment  } for resuming
// Metadata (strings): "format" = "contraseg-checkpoint", "version" = checkpoint format version,
// "contraseg_version", "crc32" (the checksum), "adam_step" (when saved with an optimiser), plus
// whatever the caller adds (config, split, stage, step ...).
// Versions: 1 had no checksum and is refused; 2 is the current one.
//
// Loading picks tensors by name prefix. The stage rules of docs/method.md §1.8 and §4.1 become:
//   stage 2 from stage 1:  include {"enc_"}, buffers true (the frozen encoder's BN statistics)
//   stage 3 from stage 2:  include {"enc_"} + decoder_block_prefixes(l), buffers false
//   resume:                everything, buffers true, optimiser given
#include <map>
#include <string>
#include <vector>

#include "nn/adam.h"
#include "nn/params.h"

namespace cs {

constexpr int kCheckpointVersion = 2;

void save_checkpoint(const std::string& path, const ParamStore& store, const Adam* adam = nullptr,
                     const std::map<std::string, std::string>& metadata = {});

struct CheckpointLoadOptions {
  // A tensor is loaded when its name starts with one of `include` (empty: every name) and with
  // none of `exclude`. Every include prefix must match at least one tensor of the file.
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  bool params = true;    // trainable parameters
  bool buffers = true;   // BN running statistics (docs/method.md §4.1: not copied into fine-tuning)
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

// Throws std::runtime_error naming the file and saying what is wrong unless `path` is a readable
// contraseg checkpoint of this version whose checksum matches (reads the file once, no model
// needed).
void verify_checkpoint(const std::string& path);

// For periodic checkpoints: keeps the last two. When `path` exists and verifies, it is renamed to
// `previous_path` (replacing it); a damaged `path` is not kept (it must not push out a good
// previous one). Then the new checkpoint is written to `path` atomically. A crash in between
// leaves `previous_path` and no `path`, which choose_checkpoint handles. Same folder for both, so
// that the directory fsync of the write also makes the rename durable.
void save_checkpoint_rotating(const std::string& path, const std::string& previous_path, const ParamStore& store,
                              const Adam* adam = nullptr, const std::map<std::string, std::string>& metadata = {});

struct RejectedCheckpoint {
  std::string path;
  std::string reason;  // the error message; it names the file ("... does not exist", "... checksum mismatch ...")
};
struct CheckpointChoice {
  std::string path;                          // the chosen file; empty when no candidate exists
  std::vector<RejectedCheckpoint> rejected;  // the candidates before it, in order, and why
};

// The first of `candidates` (in order of preference, e.g. {latest, previous}) that exists and
// passes verify_checkpoint. Returns an empty path when none exists (nothing to resume from).
// Throws std::runtime_error listing every candidate's reason when some exist but none verifies:
// silently starting over would throw away the run.
CheckpointChoice choose_checkpoint(const std::vector<std::string>& candidates);

// Name prefixes of decoder blocks 1..l (docs/method.md §1.3): block 1 = dec_dc6, dec_c5_*; block 2 =
// dec_dc5, dec_c4_*; ...; block 5 = dec_dc2, dec_c1_*.
std::vector<std::string> decoder_block_prefixes(int l);

}  // namespace cs
