#include "io/datasets/n4_cache.h"

#include <zlib.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "io/datasets/datasets.h"
#include "io/formats/nifti.h"
#include "io/paths.h"

namespace cs {
namespace {

constexpr const char* kDescripPrefix = "contraseg N4 ";

// FNV-1a (64 bits) and zlib's CRC-32 side by side: 96 bits, stable across compilers and runs.
struct KeyHash {
  uint64_t fnv = 0xcbf29ce484222325ull;
  uLong crc = crc32(0L, Z_NULL, 0);
  void add(const char* p, size_t n) {
    for (size_t i = 0; i < n; ++i) fnv = (fnv ^ static_cast<unsigned char>(p[i])) * 0x100000001b3ull;
    crc = crc32(crc, reinterpret_cast<const Bytef*>(p), static_cast<uInt>(n));
  }
  std::string hex() const { return fmt::format("{:016x}{:08x}", fnv, static_cast<uint32_t>(crc)); }
};

std::string entry_path(const std::string& dir, const std::string& key) { return dir + "/" + key + ".nii.gz"; }

// Why the entry at `path` cannot stand for the correction of `source` ("" when it can).
std::string entry_problem(const std::string& path, const std::string& key, const Volume& source, Volume* entry) {
  try {
    *entry = read_nifti(path);
  } catch (const std::exception& e) {
    return std::string("unreadable (") + e.what() + ")";
  }
  const Volume& e = *entry;
  if (e.descrip != kDescripPrefix + key) return "written for another key ('" + e.descrip + "')";
  if (e.nx != source.nx || e.ny != source.ny || e.nz != source.nz)
    return fmt::format("{}x{}x{}, not the source's {}x{}x{}", e.nx, e.ny, e.nz, source.nx, source.ny, source.nz);
  const float de[3] = {e.dx, e.dy, e.dz}, ds[3] = {source.dx, source.dy, source.dz};
  for (int i = 0; i < 3; ++i)
    if (std::fabs(de[i] - ds[i]) > 1e-6f * std::fabs(ds[i])) return "of another voxel size than the source";
  double me[4][4], ms[4][4];
  volume_affine(e, me);
  volume_affine(source, ms);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c)
      if (std::fabs(me[r][c] - ms[r][c]) > 1e-4 * std::max(1.0, std::fabs(ms[r][c])))
        return "of another voxel-to-world matrix than the source";
  for (float x : e.data)
    if (!std::isfinite(x)) return "holding non-finite values";
  return "";
}

// One lock per entry, so that threads of one process (reproduce's parallel runs) compute an entry
// once; other processes at worst compute it twice, each write whole.
std::shared_ptr<std::mutex> entry_lock(const std::string& path) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::shared_ptr<std::mutex>> registry;
  const std::lock_guard<std::mutex> lock(registry_mutex);
  auto& m = registry[path];
  if (!m) m = std::make_shared<std::mutex>();
  return m;
}

}  // namespace

std::string default_n4_cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && xdg[0] == '/') return std::string(xdg) + "/contraseg/n4";  // the XDG spec ignores relative ones
  const char* home = std::getenv("HOME");
  if (home && home[0]) return std::string(home) + "/.cache/contraseg/n4";
  throw std::runtime_error("no folder for the N4 cache: neither XDG_CACHE_HOME nor HOME is set; set n4_cache "
                           "(or preprocess --n4-cache) to a folder");
}

std::string n4_cache_key(const std::string& source_file, int channel, const N4Params& p) {
  std::ifstream in(source_file, std::ios::binary);
  if (!in) throw std::runtime_error(source_file + ": cannot read it to find its N4 cache entry");
  KeyHash h;
  const std::string head = p.text() + "\nchannel " + std::to_string(channel) + "\nitk " + n4_itk_version() + "\n";
  h.add(head.data(), head.size());
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.add(buf.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw std::runtime_error(source_file + ": read error while hashing it for the N4 cache");
  return h.hex();
}

Volume n4_cached(const Volume& image, const N4CacheRequest& req, const std::function<void(const std::string&)>& say,
                 N4CacheOutcome* outcome) {
  const std::string what = req.what.empty() ? req.source_file : req.what;
  require_n4(what);
  const std::string dir = req.dir.empty() ? default_n4_cache_dir() : req.dir;
  const std::string key = n4_cache_key(req.source_file, req.channel, req.params);
  const std::string path = entry_path(dir, key);
  const auto lock_ptr = entry_lock(absolute_path(path));
  const std::lock_guard<std::mutex> lock(*lock_ptr);

  bool stale = false;
  if (path_exists(path)) {
    Volume entry;
    const std::string problem = entry_problem(path, key, image, &entry);
    if (problem.empty()) {
      if (outcome) *outcome = N4CacheOutcome::Read;
      Volume out = same_geometry(image, std::move(entry.data));
      out.datatype = 16;
      out.scl_slope = out.scl_inter = 0;
      return out;
    }
    say(fmt::format("N4 cache: {} is {}; computing it again", path, problem));
    stale = true;
  }
  say(fmt::format("N4 {}: correcting {}x{}x{} (ITK {}, no cached entry yet)...", what, image.nx, image.ny, image.nz,
                  n4_itk_version()));
  const auto t0 = std::chrono::steady_clock::now();
  Volume corrected = n4_bias_correct(image, req.params, what);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error(fmt::format("{}: cannot create the N4 cache folder: {}", dir, ec.message()));
  Volume entry = corrected;
  entry.descrip = kDescripPrefix + key;
  write_nifti_image(path, entry);  // atomic: readers see the old entry or the new one
  say(fmt::format("N4 {}: done in {:.1f} s -> {}", what, secs, path));
  if (outcome) *outcome = stale ? N4CacheOutcome::Recomputed : N4CacheOutcome::Computed;
  return corrected;
}

}  // namespace cs
