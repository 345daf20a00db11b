#include "experiments/cli.h"
#include "experiments/data.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "autograd/atomic_file.h"

namespace cs {

std::string splits_path_for(const std::string& dataset, const std::string& root) {
  const std::string own = root + "/splits.json";
  if (path_exists(own)) return own;
  return find_splits_file(dataset);
}

PreprocessParams pipeline_params(const Config& cfg) {
  PreprocessParams p = dataset_params(cfg.str("dataset"));  // SPEC 1.1
  if (cfg.integer("image_size")) p.out_h = p.out_w = cfg.integer("image_size");
  if (p.out_h % 32 != 0)
    throw std::invalid_argument("image_size " + std::to_string(p.out_h) + " is not a multiple of 32");
  if (cfg.real("target_res") > 0) p.target_dx = p.target_dy = cfg.real("target_res");
  if (cfg.integer("num_classes")) p.num_classes = cfg.integer("num_classes");
  return p;
}

DataSource::DataSource(const Config& cfg) : dataset_(cfg.str("dataset")), root_(cfg.str("data")) {
  if (root_.empty()) throw std::invalid_argument("no data directory: set --data DIR (or data in the config)");
  std::string layout = cfg.str("layout");
  if (layout == "auto") layout = dataset_;
  if (layout == "msd") layout = "prostate";
  cases_ = list_cases(layout, root_);
  const std::string split_file = cfg.str("splits").empty() ? splits_path_for(dataset_, root_) : cfg.str("splits");
  splits_ = load_splits(split_file, cfg.str("compat"));
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
  const bool tty = isatty(fileno(stdout)) && !what.empty();
  for (size_t i = 0; i < selected.size(); ++i) {
    if (tty) {
      std::printf("\r  loading %s: %zu/%zu (%s)   ", what.c_str(), i + 1, selected.size(), selected[i].id.c_str());
      std::fflush(stdout);
    }
    LoadedCase c = load_case(selected[i], need_labels);
    out.push_back(prepare_case(c, params_, keep_native));
  }
  if (tty) std::printf("\r\033[K");
  if (!what.empty()) std::printf("  loaded %s: %zu cases\n", what.c_str(), selected.size());
  return out;
}

std::vector<SliceStack> stacks_of(const std::vector<PreparedCase>& cases) {
  std::vector<SliceStack> s;
  s.reserve(cases.size());
  for (const auto& c : cases) s.push_back(c.stack);
  return s;
}

void write_derived_splits(const std::string& path, const std::string& dataset,
                          const std::vector<std::string>& ids_in) {
  std::vector<std::string> ids = ids_in;
  std::sort(ids.begin(), ids.end());
  const int n = static_cast<int>(ids.size());
  if (n < 7)
    throw std::invalid_argument("a derived split needs at least 7 cases (test 2, validation 2, labelled 3); found " +
                                std::to_string(n));
  const int n_test = std::max(2, n / 4);
  // Deal: every 4th case to the test set, then validation pair, then labelled candidates.
  std::vector<std::string> test, rest;
  for (int i = 0; i < n; ++i) ((i % 4 == 3 && static_cast<int>(test.size()) < n_test) ? test : rest).push_back(ids[i]);
  const std::vector<std::string> val = {rest[rest.size() - 1], rest[rest.size() - 2]};
  rest.resize(rest.size() - 2);
  using nlohmann::json;
  json labeled;
  const size_t k = std::min<size_t>(3, rest.size());
  for (size_t c = 0; c < k; ++c) {
    const std::string comb = "c" + std::to_string(c + 1);
    labeled["tr1"][comb] = {{"train", {rest[c]}}, {"val", val}};
    labeled["tr2"][comb] = {{"train", {rest[c], rest[(c + 1) % rest.size()]}}, {"val", val}};
  }
  json j = {{"dataset", dataset},
            {"source", "derived by contraseg from the cases found in the data directory"},
            {"test", test},
            {"pretrain", {{"name", "pool"}, {"train", rest}, {"val", val}}},
            {"labeled", labeled},
            {"benchmark", {{"name", "trall"}, {"train", rest}, {"val", val}}}};
  write_file_atomic(path, j.dump(2) + "\n");
}

}  // namespace cs
