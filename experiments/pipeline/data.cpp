#include "io/paths.h"
#include "experiments/pipeline/data.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "autograd/atomic_file.h"
#include "experiments/pipeline/console.h"

namespace cs {

std::string splits_path_for(const std::string& dataset, const std::string& root) {
  const std::string own = root + "/splits.json";
  if (path_exists(own)) return own;
  return find_splits_file(dataset);
}

PreprocessParams pipeline_params(const Config& cfg) {
  PreprocessParams p = dataset_params(cfg.str("dataset"));  // docs/method.md §6.1
  if (cfg.integer("image_size")) p.out_h = p.out_w = cfg.integer("image_size");
  if (p.out_h % 32 != 0)
    throw std::invalid_argument("image_size " + std::to_string(p.out_h) + " is not a multiple of 32");
  if (cfg.real("target_res") > 0) p.target_dx = p.target_dy = cfg.real("target_res");
  if (cfg.integer("num_classes")) p.num_classes = cfg.integer("num_classes");
  return p;
}

std::string dataset_layout(const std::string& layout, const std::string& dataset) {
  if (layout == "auto") return dataset;
  if (layout == "msd") return "prostate";
  return layout;
}

namespace {

// A folder without a split of its own is read with the dataset's paper split: that only works
// when the folder holds the paper's cases, so say how to make a split when it does not.
void require_paper_split_cases(const Splits& s, const std::vector<Case>& cases, const std::string& root,
                               const Config& cfg) {
  IdList missing;
  for (const auto& id : s.all_ids())
    if (std::none_of(cases.begin(), cases.end(), [&](const Case& c) { return c.id == id; })) missing.push_back(id);
  if (missing.empty()) return;
  std::string few;
  for (size_t i = 0; i < std::min<size_t>(5, missing.size()); ++i) few += (i ? ", " : "") + missing[i];
  if (missing.size() > 5) few += ", ...";
  std::string command = "contraseg split --data " + root;
  if (cfg.str("dataset") != "acdc") command += " --dataset " + cfg.str("dataset");
  if (cfg.str("layout") != "auto") command += " --layout " + cfg.str("layout");
  throw std::runtime_error(fmt::format(
      "{}: no splits.json there and no splits in the config, so the {} paper split {} was tried, but {} of its {} "
      "cases are not in the folder ({}). Make a split of this folder's cases with: {}",
      root, s.dataset, s.path, missing.size(), s.all_ids().size(), few, command));
}

}  // namespace

DataSource::DataSource(const Config& cfg) : dataset_(cfg.str("dataset")), root_(cfg.str("data")) {
  if (root_.empty()) throw std::invalid_argument("no data directory: set --data DIR (or data in the config)");
  cases_ = list_cases(dataset_layout(cfg.str("layout"), dataset_), root_);
  const bool given = !cfg.str("splits").empty();
  const std::string split_file = given ? cfg.str("splits") : splits_path_for(dataset_, root_);
  splits_ = load_splits(split_file, cfg.str("compat"));
  if (!given && !path_exists(root_ + "/splits.json")) require_paper_split_cases(splits_, cases_, root_, cfg);
  params_ = pipeline_params(cfg);
}

PreparedCase prepare_case(const LoadedCase& c, const PreprocessParams& p, bool keep_native) {
  PreparedCase out;
  out.id = c.id;
  out.stack = preprocess_volume(c.image, c.has_label() ? &c.label : nullptr, p, "case " + c.id);
  if (keep_native) {
    out.native_image = c.image;
    out.native_label = c.label;
  }
  return out;
}

std::vector<PreparedCase> DataSource::prepare(const IdList& ids, bool need_labels, bool keep_native,
                                              const std::string& what) const {
  const auto selected = select_cases(cases_, ids);
  std::vector<PreparedCase> out;
  out.reserve(selected.size());
  const bool tty = console_live() && !what.empty();
  for (size_t i = 0; i < selected.size(); ++i) {
    if (tty) {
      std::printf("\r  loading %s: %zu/%zu (%s)   ", what.c_str(), i + 1, selected.size(), selected[i].id.c_str());
      std::fflush(stdout);
    }
    LoadedCase c = load_case(selected[i], need_labels);
    out.push_back(prepare_case(c, params_, keep_native));
  }
  if (tty) std::printf("\r\033[K");
  if (!what.empty()) say(fmt::format("  loaded {}: {} cases", what, selected.size()));
  return out;
}

std::vector<SliceStack> stacks_of(const std::vector<PreparedCase>& cases) {
  std::vector<SliceStack> s;
  s.reserve(cases.size());
  for (const auto& c : cases) s.push_back(c.stack);
  return s;
}

Splits write_folder_split(const std::string& root, const std::string& layout, const std::string& dataset,
                          const std::string& path, uint64_t seed) {
  IdList ids;
  for (const auto& c : list_cases(dataset_layout(layout, dataset), root)) ids.push_back(c.id);
  std::string text;
  try {
    text = derived_splits_json(ids, dataset, seed);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(root + ": " + e.what());
  }
  write_file_atomic(path, text);
  return load_splits(path);
}

std::string describe_split(const Splits& s) {
  auto line = [](const std::string& name, const IdList& ids) {
    std::string l = fmt::format("  {:<10} {:>3} ", name, ids.size());
    for (const auto& id : ids) l += " " + id;
    return l + "\n";
  };
  std::string out = line("test", s.test()) + line("validation", s.pretrain_validation()) +
                    line("pretrain", s.pretrain_pool());
  std::string combs;
  for (const auto& [tr, names] : s.combinations())
    combs += fmt::format("{}{} {}{}", combs.empty() ? "" : ", ", tr, names.front(),
                         names.size() > 1 ? ".." + names.back() : "");
  return out + "  labelled   " + (combs.empty() ? "none" : combs) + "\n";
}

void synthesise_dataset(const std::string& out, const PhantomOptions& opt, int threads) {
  if (opt.patients < 1 || opt.patients > 999)
    throw std::invalid_argument("the number of patients must be in [1, 999], got " + std::to_string(opt.patients));
  check_phantom_acquisition(opt.acq);  // before anything is written
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
        write_phantom_patient(out, p);
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
  const std::string split = out + "/splits.json";
  if (opt.patients < kMinDerivedSplitCases) {
    std::printf("synth: no %s: a split needs at least %d patients\n", split.c_str(), kMinDerivedSplitCases);
    return;
  }
  const Splits s = write_folder_split(out, "acdc", "acdc", split);
  std::printf("synth: split (split seed 0, sorted order) -> %s\n%s", split.c_str(), describe_split(s).c_str());
}

}  // namespace cs
