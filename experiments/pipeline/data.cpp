#include "io/paths.h"
#include "experiments/pipeline/data.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "autograd/atomic_file.h"
#include "experiments/pipeline/console.h"
#include "io/datasets/n4_cache.h"

namespace cs {

std::string splits_path_for(const std::string& dataset, const std::string& root) {
  const std::string own = root + "/splits.json";
  if (path_exists(own)) return own;
  return find_splits_file(dataset);
}

std::string dataset_layout(const std::string& layout, const std::string& dataset) {
  if (layout == "auto") return dataset;
  if (layout == "msd") return "prostate";
  return layout;
}

namespace {

// A folder without a split of its own is read with the dataset's paper split: that only works
// when the folder holds the paper's cases, so say how to make a split when it does not.
void require_paper_split_cases(const Splits& s, const std::vector<Case>& cases, const DataSettings& data) {
  const std::string& root = data.root;
  IdList missing;
  for (const auto& id : s.all_ids())
    if (std::none_of(cases.begin(), cases.end(), [&](const Case& c) { return c.id == id; })) missing.push_back(id);
  if (missing.empty()) return;
  std::string few;
  for (size_t i = 0; i < std::min<size_t>(5, missing.size()); ++i) few += (i ? ", " : "") + missing[i];
  if (missing.size() > 5) few += ", ...";
  std::string command = "contraseg split --data " + root;
  if (data.dataset != "acdc") command += " --dataset " + data.dataset;
  if (data.layout != "auto") command += " --layout " + data.layout;
  throw std::runtime_error(fmt::format(
      "{}: no splits.json there and no splits in the config, so the {} paper split {} was tried, but {} of its {} "
      "cases are not in the folder ({}). Make a split of this folder's cases with: {}",
      root, s.dataset, s.path, missing.size(), s.all_ids().size(), few, command));
}

}  // namespace

DataSource::DataSource(const Settings& settings)
    : dataset_(settings.data.dataset),
      root_(settings.data.root),
      n4_(settings.data.n4),
      n4_cache_(settings.data.n4_cache),
      params_(settings.data.params) {
  if (root_.empty()) throw std::invalid_argument("no data directory: set --data DIR (or data in the config)");
  cases_ = list_cases(dataset_layout(settings.data.layout, dataset_), root_);
  const bool given = !settings.data.splits.empty();
  const std::string split_file = given ? settings.data.splits : splits_path_for(dataset_, root_);
  splits_ = load_splits(split_file, settings.run.compat);
  if (!given && !path_exists(root_ + "/splits.json")) require_paper_split_cases(splits_, cases_, settings.data);
  for (const auto& note : splits_.notes()) say("note: " + note);
}

namespace {

// The cases check_cases has loaded and passed in this process (by files and preprocessing), so
// that `reproduce` reads each test case once for its checks, not once per fine-tuning run.
class CheckedCases {
 public:
  bool contains(const std::string& key) {
    const std::lock_guard<std::mutex> lock(mu_);
    return keys_.count(key) > 0;
  }
  void insert(const std::string& key) {
    const std::lock_guard<std::mutex> lock(mu_);
    keys_.insert(key);
  }

 private:
  std::mutex mu_;
  std::set<std::string> keys_;
};
CheckedCases checked_cases;

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

LoadedCase DataSource::load(const Case& c, bool need_labels, bool tty) const {
  LoadedCase lc = load_case(c, need_labels);
  if (!n4_) return lc;
  N4CacheRequest req;
  req.source_file = c.image;
  req.channel = c.channel;
  req.dir = n4_cache_;
  req.what = "case " + c.id;
  lc.image = n4_cached(lc.image, req, [tty](const std::string& line) {
    if (tty) std::printf("\r\033[K");  // over prepare's progress line
    say(line);
  });
  return lc;
}

void DataSource::check_cases(const std::vector<CaseList>& lists) const {
  check_lists(lists);
  for (const CaseList& l : lists)
    for (const Case& c : select_cases(cases_, l.ids)) {
      const std::string key = fmt::format("{}\n{}\n{}\n{}x{}@{}x{}/{}{}", c.image, l.labels ? c.label : "", c.channel,
                                          params_.out_h, params_.out_w, params_.target_dx, params_.target_dy,
                                          params_.num_classes, n4_ ? " n4 " + n4_cache_ : "");
      if (checked_cases.contains(key)) continue;
      prepare_case(load(c, l.labels, false), params_, false, c.label);
      checked_cases.insert(key);
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
    LoadedCase c = load(selected[i], need_labels, tty);
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

}  // namespace cs
