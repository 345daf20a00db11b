#include "io/paths.h"
#include "experiments/pipeline/data.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <regex>
#include <set>
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
  for (const auto& note : splits_.notes()) say("note: " + note);
  params_ = pipeline_params(cfg);
}

namespace {

// The cases check() has loaded and passed in this process (by files and preprocessing), so that
// `reproduce` reads each test case once for its checks, not once per fine-tuning run.
bool passed_before(const std::string& key, bool record) {
  static std::mutex mu;
  static std::set<std::string> passed;
  const std::lock_guard<std::mutex> lock(mu);
  return record ? !passed.insert(key).second : passed.count(key) > 0;
}

}  // namespace

void DataSource::check_lists(const std::vector<CaseList>& lists) const {
  std::set<std::string> ids;
  for (const Case& c : cases_) ids.insert(c.id);
  for (const CaseList& l : lists) {
    if (l.ids.empty())
      throw std::invalid_argument(fmt::format("{}: the {} is empty; the stage needs at least one case there",
                                              splits_.path, l.name));
    IdList missing;
    for (const auto& id : l.ids)
      if (!ids.count(id)) missing.push_back(id);
    if (!missing.empty()) {
      std::string few;
      for (size_t i = 0; i < std::min<size_t>(5, missing.size()); ++i) few += (i ? ", " : "") + missing[i];
      throw std::invalid_argument(fmt::format(
          "{}: the {} names case{} {}{}, not in {} ({} cases there); fix the split, or make one of this folder's "
          "cases with contraseg split --data {}",
          splits_.path, l.name, missing.size() > 1 ? "s" : "", few, missing.size() > 5 ? ", ..." : "", root_,
          cases_.size(), root_));
    }
  }
}

void DataSource::check_cases(const std::vector<CaseList>& lists) const {
  check_lists(lists);
  for (const CaseList& l : lists)
    for (const Case& c : select_cases(cases_, l.ids)) {
      const std::string key = fmt::format("{}\n{}\n{}\n{}x{}@{}x{}/{}", c.image, l.labels ? c.label : "", c.channel,
                                          params_.out_h, params_.out_w, params_.target_dx, params_.target_dy,
                                          params_.num_classes);
      if (passed_before(key, false)) continue;
      prepare_case(load_case(c, l.labels), params_, false, c.label);
      passed_before(key, true);
    }
}

PreparedCase prepare_case(const LoadedCase& c, const PreprocessParams& p, bool keep_native,
                          const std::string& label_file) {
  PreparedCase out;
  out.id = c.id;
  out.stack = preprocess_volume(c.image, c.has_label() ? &c.label : nullptr, p, "case " + c.id,
                                label_file.empty() ? "" : "case " + c.id + " (" + label_file + ")");
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
    out.push_back(prepare_case(c, params_, keep_native, selected[i].label));
  }
  if (tty) std::printf("\r\033[K");
  if (!what.empty()) say_progress(fmt::format("  loaded {}: {} cases", what, selected.size()));
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

namespace {

namespace fs = std::filesystem;

// The folder synth fills: `out` made absolute, symbolic links resolved (so that a replaced folder
// is the real one, not the link to it), without a trailing slash.
fs::path synth_target(const std::string& out) {
  fs::path p(absolute_path(out));
  if (!p.has_filename()) p = p.parent_path();
  return p;
}

// The first few entries of a folder, for a message ("patient001, splits.json, ...").
std::string some_entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  std::string s;
  for (size_t i = 0; i < std::min<size_t>(3, names.size()); ++i) s += (i ? ", " : "") + names[i];
  return names.size() > 3 ? s + ", ... (" + std::to_string(names.size()) + " entries)" : s;
}

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

// Folders that synth --overwrite never replaces, whatever they hold: the root, the home directory,
// the working directory and the folders above it.
void refuse_protected_folder(const std::string& out, const fs::path& target) {
  const fs::path cwd = fs::path(absolute_path("."));
  const char* home = std::getenv("HOME");
  std::string what;
  if (target == target.root_path())
    what = "the root folder";
  else if (home && *home && target == fs::path(absolute_path(home)))
    what = "the home directory";
  else if (target == cwd)
    what = "the current directory";
  else if (const fs::path up = cwd.lexically_relative(target); !up.empty() && *up.begin() != "..")
    what = "a folder above the current directory";
  if (!what.empty())
    throw std::invalid_argument(fmt::format(
        "{}: is {}; synth --overwrite replaces its --out folder whole, so it never takes this one: choose a new "
        "folder for --out",
        out, what));
}

// Checks `out` before anything is written: a new or empty folder, or, with `overwrite`, a folder
// that holds only a synth dataset. Returns whether there is an old dataset to replace.
bool check_synth_target(const std::string& out, const fs::path& target, bool overwrite) {
  std::error_code ec;
  const auto st = fs::status(target, ec);
  if (!fs::exists(st)) return false;
  if (!fs::is_directory(st)) throw std::invalid_argument(out + ": exists and is not a folder; choose another --out");
  if (fs::is_empty(target)) return false;
  if (!overwrite)
    throw std::invalid_argument(fmt::format(
        "{}: not empty (it holds {}); synth writes a whole dataset folder: choose a new or empty --out, or add "
        "--overwrite to replace this one",
        out, some_entries(target)));
  refuse_protected_folder(out, target);
  const std::string foreign = foreign_entry(target);
  if (!foreign.empty())
    throw std::invalid_argument(fmt::format(
        "{}: --overwrite replaces only a folder that synth wrote (patientNNN/ folders and splits.json), and {} is "
        "not synth's; remove the folder yourself if it is to go, or choose another --out",
        out, foreign));
  return true;
}

// What killed syntheses left beside `target` ("<name>.partial-PID", "<name>.old-PID" of a process
// that is gone).
void remove_stale_siblings(const fs::path& target) {
  static const std::regex ours("\\.(partial|old)-([0-9]+)");
  std::error_code ec;
  const std::string name = target.filename().string();
  for (const auto& e : fs::directory_iterator(target.parent_path(), ec)) {
    const std::string n = e.path().filename().string();
    std::smatch m;
    if (n.compare(0, name.size(), name) != 0) continue;
    const std::string rest = n.substr(name.size());
    if (!std::regex_match(rest, m, ours)) continue;
    const long pid = std::stol(m[2].str());
    if (pid != ::getpid() && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(e.path(), ec);
  }
}

// Puts the finished dataset `partial` in place of `target`: a new folder is renamed into place;
// an empty one (which may be the working directory or a mount point) receives the entries; an old
// dataset is swapped with the new one in one step (two renames where the file system cannot swap)
// and then removed, so that no file of it survives beside the new ones.
void publish_dataset(const fs::path& partial, const fs::path& target, bool replace) {
  if (!fs::exists(target)) {
    fs::rename(partial, target);
    return;
  }
  if (!replace) {
    for (const auto& e : fs::directory_iterator(partial)) fs::rename(e.path(), target / e.path().filename());
    fs::remove(partial);
    return;
  }
  if (::renameat2(AT_FDCWD, partial.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
    fs::remove_all(partial);  // holds the old dataset now
    return;
  }
  const fs::path old = target.string() + ".old-" + std::to_string(::getpid());
  fs::rename(target, old);
  try {
    fs::rename(partial, target);
  } catch (...) {
    fs::rename(old, target);  // the old dataset stays where it was
    throw;
  }
  fs::remove_all(old);
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
  // The dataset is written into a sibling folder and put in place when complete: a killed synth
  // never leaves a half dataset in `out`, and a replaced one leaves none of its files behind.
  const fs::path target = synth_target(out);
  const bool replace = check_synth_target(out, target, overwrite);
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  if (ec) throw std::runtime_error(fmt::format("{}: cannot create its folder: {}", out, ec.message()));
  remove_stale_siblings(target);
  const fs::path partial = target.string() + ".partial-" + std::to_string(::getpid());
  fs::remove_all(partial, ec);
  if (!fs::create_directory(partial, ec) || ec)
    throw std::runtime_error(fmt::format("{}: cannot create {} to write the dataset into: {}", out, partial.string(),
                                         ec ? ec.message() : "it exists"));
  try {
    write_synth_dataset(partial.string(), out, opt, threads);
    publish_dataset(partial, target, replace);
  } catch (...) {
    fs::remove_all(partial, ec);
    throw;
  }
  if (replace) std::printf("synth: replaced the dataset that was in %s\n", out.c_str());
  const std::string split = (fs::path(out) / "splits.json").string();
  if (opt.patients < kMinDerivedSplitCases) {
    std::printf("synth: no %s: a split needs at least %d patients\n", split.c_str(), kMinDerivedSplitCases);
    return;
  }
  std::printf("synth: split (split seed 0, sorted order) -> %s\n%s", split.c_str(),
              describe_split(load_splits(split)).c_str());
}

}  // namespace cs
