#pragma once
// Helpers shared by the io and experiments tests: fixture paths, a self-cleaning temporary
// folder, small file readers and writers, and running the contraseg binary.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/volume.h"

namespace cs::testing_io {

inline std::string fixture(const std::string& name) {
  return std::string(CONTRASEG_SOURCE_DIR) + "/tests/fixtures/nifti/" + name;
}

inline nlohmann::json load_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    const auto base = std::filesystem::temp_directory_path();
    path_ = (base / ("cs_io_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++))).string();
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

inline void write_text(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

inline std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A file's whole text ("" when it cannot be read).
inline std::string read_text(const std::string& path) {
  const auto b = read_bytes(path);
  return std::string(b.begin(), b.end());
}

// Each regular file under `dir` but the run.lock files (which every holder of a folder rewrites),
// by path relative to `dir`: its modification time, size and a hash of its bytes. Equal listings
// before and after a command: it added, removed, rewrote and touched nothing there.
inline std::map<std::string, std::string> files_of(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().filename() == "run.lock") continue;
    struct stat st {};
    if (::stat(e.path().c_str(), &st) != 0) continue;
    const std::string bytes = read_text(e.path().string());
    char mtime[48];
    std::snprintf(mtime, sizeof mtime, "%lld.%09ld", static_cast<long long>(st.st_mtim.tv_sec), st.st_mtim.tv_nsec);
    files[std::filesystem::relative(e.path(), dir).string()] =
        "mtime " + std::string(mtime) + " size " + std::to_string(st.st_size) + " hash " +
        std::to_string(std::hash<std::string>{}(bytes));
  }
  return files;
}

// files_of() of the run folders of a reproduce or demo folder `out` (pretrain/*, finetune/*/*), by
// path relative to `out`.
inline std::map<std::string, std::string> stage_files_of(const std::string& out) {
  std::map<std::string, std::string> files;
  for (const std::string stage : {"pretrain", "finetune"})
    for (const auto& [path, stamp] : files_of(out + "/" + stage)) files[stage + "/" + path] = stamp;
  return files;
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

inline void write_bytes(const std::string& path, const std::vector<char>& b) {
  std::ofstream out(path, std::ios::binary);
  out.write(b.data(), static_cast<std::streamsize>(b.size()));
}

// A small volume with a recognisable, non-symmetric pattern, a qform with an offset and an
// sform with a shear (quaternion left at the identity, so qto_xyz is consistent with it).
inline Volume pattern_volume(int nx, int ny, int nz, float dx, float dy, float dz, float scale = 1.f) {
  Volume v = make_volume(nx, ny, nz, dx, dy, dz);
  for (int z = 0; z < nz; ++z)
    for (int y = 0; y < ny; ++y)
      for (int x = 0; x < nx; ++x) v.at(x, y, z) = scale * static_cast<float>(x + 10 * y + 100 * z);
  v.sform_code = 2;
  v.qoffset_x = v.qto_xyz[0][3] = v.sto_xyz[0][3] = -12.5;
  v.qoffset_y = v.qto_xyz[1][3] = v.sto_xyz[1][3] = 7.25;
  v.qoffset_z = v.qto_xyz[2][3] = v.sto_xyz[2][3] = 30;
  v.sto_xyz[0][1] = 0.125;  // a shear only the sform can express
  return v;
}

struct RunResult {
  int status = -1;
  std::string out, err;  // stdout, stderr
};

// Runs `contraseg ARGS` (ARGS already shell-quoted) capturing stdout and stderr; `binary`: the
// command to run instead (tests/tools).
inline RunResult run_contraseg(const std::string& args, const std::string& binary = CONTRASEG_BINARY) {
  RunResult r;
  TempDir tmp;
  const std::string err = tmp / "stderr.txt";
  const std::string cmd = "\"" + binary + "\" " + args + " 2>\"" + err + "\"";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  const auto e = read_bytes(err);
  r.err.assign(e.begin(), e.end());
  return r;
}

}  // namespace cs::testing_io
