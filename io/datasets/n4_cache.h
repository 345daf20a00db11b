#pragma once
// N4-corrected volumes kept on disk, so that every stage and every run reads a case's correction
// instead of recomputing it (N4 takes seconds to a minute per volume).
//
// An entry is <dir>/<key>.nii.gz, float32, with the source volume's header geometry and the
// description "contraseg N4 <key>". The key is a hash of the source file's bytes, the volume
// index of a 4D file, the N4 parameters and the ITK version: a changed file or setting gives
// another entry, never a stale one. Entries are written atomically. On load an entry must name
// its key and match the source (dims, voxel size, voxel-to-world matrix; its values are finite
// since the reader refuses others); one that does not, or cannot be read, is recomputed and
// replaced, with a one-line note. Nothing is ever deleted: remove the folder to reclaim space.
#include <functional>
#include <string>

#include "io/datasets/n4.h"
#include "io/volume.h"

namespace cs {

// $XDG_CACHE_HOME/contraseg/n4 (when XDG_CACHE_HOME is an absolute path), else
// $HOME/.cache/contraseg/n4. Throws std::runtime_error when neither variable is usable.
std::string default_n4_cache_dir();

// The entry's name without ".nii.gz": 24 hex digits. Throws std::runtime_error naming the file
// when it cannot be read.
std::string n4_cache_key(const std::string& source_file, int channel, const N4Params& p = {});

// How n4_cached obtained its volume.
enum class N4CacheOutcome { Read, Computed, Recomputed };

struct N4CacheRequest {
  std::string source_file;  // the NIfTI file `image` was read from
  int channel = 0;          // its volume index (the 4th dimension)
  std::string dir;          // "" = default_n4_cache_dir()
  std::string what;         // names the case in notes and errors
  N4Params params;
};

// The N4 correction of `image` (read from req.source_file, volume req.channel): the cached entry
// when one is valid, else computed (n4_bias_correct) and stored. `say` gets the notes: a line
// before and after each computation, and a line for each entry found unusable. The returned
// volume has image's header with the corrected voxels. Concurrent calls in one process for the
// same entry compute it once.
Volume n4_cached(const Volume& image, const N4CacheRequest& req, const std::function<void(const std::string&)>& say,
                 N4CacheOutcome* outcome = nullptr);

}  // namespace cs
