#include "experiments/pipeline/synth_dataset.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "experiments/pipeline/data.h"
#include "experiments/pipeline/output_folder.h"

namespace cs {
namespace {

namespace fs = std::filesystem;

// The first entry of `dir` that synth does not write (patientNNN/ folders of frames, labels and
// Info.cfg, splits.json, temporary files of an interrupted write); "" when there is none.
std::string foreign_entry(const fs::path& dir) {
  static const std::regex patient("patient[0-9]{3}"), top_file("splits\\.json(\\.tmp\\..*)?"),
      patient_file("patient[0-9]{3}_frame[0-9]{2}(_gt)?(\\.tmp\\.[0-9]+\\.[0-9]+)?\\.nii\\.gz|Info\\.cfg(\\.tmp\\..*)?");
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_symlink()) return e.path().string();
    if (e.is_regular_file() && std::regex_match(name, top_file)) continue;
    if (!e.is_directory() || !std::regex_match(name, patient)) return e.path().string();
    for (const auto& f : fs::directory_iterator(e.path()))
      if (f.is_symlink() || !f.is_regular_file() || !std::regex_match(f.path().filename().string(), patient_file))
        return f.path().string();
  }
  return "";
}

// Writes the patients and the split into `dir` (the partial folder); `out` is named in the lines.
void write_synth_dataset(const std::string& dir, const std::string& out, const PhantomOptions& opt, int threads) {
  if (threads <= 0) threads = std::min(8, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  std::printf("synth: %d patients, seed %llu -> %s\n", opt.patients, static_cast<unsigned long long>(opt.seed),
              out.c_str());
  const auto t0 = std::chrono::steady_clock::now();
  // Workers take patients in order; lines are printed in patient order as they complete.
  std::atomic<int> next{1};
  std::mutex mu;
  std::map<int, std::string> done;
  int printed = 0;
  std::string error;
  auto worker = [&] {
    for (int id = next++; id <= opt.patients; id = next++) {
      std::string line;
      try {
        const PhantomPatient p = make_phantom_patient(id, opt);
        write_phantom_patient(dir, p);
        const Volume& v = p.ed.image;
        line = fmt::format("  {}  {:<4}  {:3}x{:3}x{:2}  {:.2f}x{:.2f}x{:.1f} mm  ED frame {:02}  ES frame {:02}",
                           phantom_patient_name(id), p.group, v.nx, v.ny, v.nz, v.dx, v.dy, v.dz, p.ed_frame,
                           p.es_frame);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu);
        if (error.empty()) error = phantom_patient_name(id) + ": " + e.what();
        next = opt.patients + 1;  // stop handing out work
        return;
      }
      std::lock_guard<std::mutex> lock(mu);
      done[id] = line;
      while (done.count(printed + 1)) {
        std::printf("%s\n", done[printed + 1].c_str());
        std::fflush(stdout);
        done.erase(++printed);
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < std::clamp(threads, 1, opt.patients); ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  if (!error.empty()) throw std::runtime_error(error);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("synth: wrote %d patients in %.1f s\n", opt.patients, secs);
  if (opt.patients >= kMinDerivedSplitCases) write_folder_split(dir, "acdc", "acdc", dir + "/splits.json");
}

}  // namespace

void synthesise_dataset(const std::string& out, const PhantomOptions& opt, int threads, bool overwrite) {
  if (opt.patients < 1 || opt.patients > 999)
    throw std::invalid_argument("the number of patients must be in [1, 999], got " + std::to_string(opt.patients));
  check_phantom_acquisition(opt.acq);  // before anything is written
  OutputFolder folder(out, overwrite, "synth", foreign_entry);
  write_synth_dataset(folder.partial(), out, opt, threads);
  folder.publish();
  if (folder.replaces()) std::printf("synth: replaced the dataset that was in %s\n", out.c_str());
  const std::string split = (fs::path(out) / "splits.json").string();
  if (opt.patients < kMinDerivedSplitCases) {
    std::printf("synth: no %s: a split needs at least %d patients\n", split.c_str(), kMinDerivedSplitCases);
    return;
  }
  std::printf("synth: split (split seed 0, sorted order) -> %s\n%s", split.c_str(),
              describe_split(load_splits(split)).c_str());
}

}  // namespace cs
