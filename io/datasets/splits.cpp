#include "io/datasets/splits.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "io/rng.h"

namespace cs {
namespace {

using nlohmann::json;

IdList ids(const json& j, const std::string& where, const std::string& path) {
  if (!j.is_array()) throw std::runtime_error(path + ": " + where + " must be a list of IDs");
  IdList out;
  for (const auto& e : j) {
    if (!e.is_string() || e.get<std::string>().empty())
      throw std::runtime_error(path + ": " + where + " holds a non-string or empty ID");
    out.push_back(e.get<std::string>());
  }
  return out;
}

LabeledSet labeled_set(const json& j, const std::string& where, const std::string& path) {
  if (!j.is_object() || !j.contains("train") || !j.contains("val"))
    throw std::runtime_error(path + ": " + where + " needs \"train\" and \"val\" lists");
  return {ids(j["train"], where + ".train", path), ids(j["val"], where + ".val", path)};
}

// "tr2" or "2" -> "tr2"; "c3" or "3" -> "c3".
std::string normalise(const std::string& s, const char* prefix) {
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos) return prefix + s;
  return s;
}

}  // namespace

const LabeledSet& Splits::find(const std::string& tr_in, const std::string& comb_in) const {
  const std::string tr = normalise(tr_in, "tr"), comb = normalise(comb_in, "c");
  if (tr == benchmark_name_ && !sets_.count(tr)) return benchmark_;
  auto it = sets_.find(tr);
  if (it != sets_.end()) {
    auto jt = it->second.find(comb);
    if (jt != it->second.end()) return jt->second;
  }
  std::string avail;
  for (const auto& [t, combs] : sets_) {
    avail += (avail.empty() ? "" : "; ") + t + ":";
    for (const auto& [c, unused] : combs) avail += " " + c;
  }
  if (!benchmark_name_.empty() && !sets_.count(benchmark_name_)) avail += "; " + benchmark_name_;
  throw std::invalid_argument(dataset + " splits: no labelled set " + tr_in + " " + comb_in + " (available: " +
                              avail + ")");
}

const IdList& Splits::labeled(const std::string& tr, const std::string& comb) const { return find(tr, comb).train; }
const IdList& Splits::validation(const std::string& tr, const std::string& comb) const { return find(tr, comb).val; }

std::map<std::string, std::vector<std::string>> Splits::combinations() const {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [t, combs] : sets_)
    for (const auto& [c, unused] : combs) out[t].push_back(c);
  return out;
}

IdList Splits::all_ids() const {
  std::set<std::string> all;
  auto add = [&](const IdList& l) { all.insert(l.begin(), l.end()); };
  add(test_);
  for (const LabeledSet* s : {&pretrain_, &benchmark_}) {
    add(s->train);
    add(s->val);
  }
  for (const auto& [t, combs] : sets_)
    for (const auto& [c, set] : combs) {
      add(set.train);
      add(set.val);
    }
  return IdList(all.begin(), all.end());
}

namespace {

// "006, 007" (the first few of a list of IDs).
std::string some_ids(const IdList& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size() && i < 5; ++i) out += (i ? ", " : "") + ids[i];
  return ids.size() > 5 ? out + ", ..." : out;
}

IdList common_ids(const IdList& a, const IdList& b) {
  const std::set<std::string> in_b(b.begin(), b.end());
  IdList out;
  for (const auto& id : a)
    if (in_b.count(id)) out.push_back(id);
  return out;
}

// The sense of a loaded split (load_splits' comment). `from_reference`: the names of the lists the
// file's "reference" object replaced, which reference mode keeps as released.
void check_split_sense(const Splits& s, const std::vector<std::pair<std::string, const LabeledSet*>>& sets,
                       const std::set<std::string>& from_reference, std::vector<std::string>& notes) {
  std::vector<std::pair<std::string, const IdList*>> lists = {{"test", &s.test()}};
  for (const auto& [name, set] : sets) {
    lists.push_back({name + ".train", &set->train});
    lists.push_back({name + ".val", &set->val});
  }
  for (const auto& [name, ids] : lists) {
    IdList sorted = *ids;
    std::sort(sorted.begin(), sorted.end());
    const auto twice = std::adjacent_find(sorted.begin(), sorted.end());
    if (twice != sorted.end())
      throw std::runtime_error(s.path + ": " + name + " lists case " + *twice +
                               " twice; a case may appear once in a list (it would count as two volumes)");
  }
  const bool paper = s.compat == Compat::Paper;
  for (const auto& [set_name, set] : sets)
    for (const auto& [part, ids] : {std::pair{".train", &set->train}, std::pair{".val", &set->val}}) {
      const std::string name = set_name + part;
      const IdList both = common_ids(*ids, s.test());
      if (both.empty()) continue;
      const std::string what = s.path + ": test case" + (both.size() > 1 ? "s " : " ") + some_ids(both) +
                               (both.size() > 1 ? " are" : " is") + " also in " + name;
      if (paper || !from_reference.count(set_name))
        throw std::runtime_error(what + "; the test cases must be kept out of every list the method trains, "
                                        "validates or pre-trains on (remove them from " + name + ")");
      notes.push_back(what + ", as in the released lists (reference mode keeps them)");
    }
  for (const auto& [name, set] : sets) {
    if (name == "pretrain") continue;  // the released pools hold their validation volumes (docs/method.md §6.4)
    const IdList both = common_ids(set->train, set->val);
    if (both.empty()) continue;
    const std::string what = s.path + ": " + some_ids(both) + (both.size() > 1 ? " are" : " is") +
                             " in both the training and the validation list of " + name;
    if (paper || !from_reference.count(name))
      throw std::runtime_error(what + "; validation must use other cases than training (remove " + some_ids(both) +
                               " from one of them" + (paper && from_reference.count(name)
                                                          ? ", or use compat=reference to keep the released lists"
                                                          : "") +
                               ")");
    notes.push_back(what + ", as in the released lists (reference mode keeps them)");
  }
}

}  // namespace

Splits load_splits(const std::string& path, Compat compat) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open split file");
  json j;
  try {
    j = json::parse(in);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw std::runtime_error(path + ": a split file is a JSON object");
  for (const char* key : {"dataset", "test", "pretrain", "labeled", "benchmark"})
    if (!j.contains(key)) throw std::runtime_error(path + ": missing \"" + std::string(key) + "\"");

  Splits s;
  s.path = path;
  s.compat = compat;
  if (!j["dataset"].is_string()) throw std::runtime_error(path + ": \"dataset\" must be a string");
  s.dataset = j["dataset"].get<std::string>();
  s.test_ = ids(j["test"], "test", path);
  s.pretrain_ = labeled_set(j["pretrain"], "pretrain", path);
  json bench = j["benchmark"];
  std::set<std::string> from_reference;
  if (compat == Compat::Reference && j.contains("reference") && j["reference"].contains("benchmark")) {
    bench = j["reference"]["benchmark"];
    from_reference.insert("benchmark");
  }
  s.benchmark_ = labeled_set(bench, "benchmark", path);
  s.benchmark_name_ = bench.value("name", std::string("trall"));
  if (!j["labeled"].is_object()) throw std::runtime_error(path + ": \"labeled\" must be an object");
  for (const auto& [tr, combs] : j["labeled"].items()) {
    if (!combs.is_object()) throw std::runtime_error(path + ": labeled." + tr + " must be an object");
    for (const auto& [c, set] : combs.items()) s.sets_[tr][c] = labeled_set(set, "labeled." + tr + "." + c, path);
  }
  if (compat == Compat::Reference && j.contains("reference") && j["reference"].contains("labeled"))
    for (const auto& [tr, combs] : j["reference"]["labeled"].items())
      for (const auto& [c, set] : combs.items()) {
        s.sets_[tr][c] = labeled_set(set, "reference.labeled." + tr + "." + c, path);
        from_reference.insert("labeled." + tr + "." + c);
      }
  std::vector<std::pair<std::string, const LabeledSet*>> sets = {{"pretrain", &s.pretrain_},
                                                                  {"benchmark", &s.benchmark_}};
  for (const auto& [tr, combs] : s.sets_)
    for (const auto& [c, set] : combs) sets.push_back({"labeled." + tr + "." + c, &set});
  check_split_sense(s, sets, from_reference, s.notes_);
  return s;
}

namespace {

// Seed 0 keeps the sorted order on purpose: ACDC numbers its patients in consecutive blocks of
// one disease group each, so dealing sorted IDs round-robin spreads every group over every set.
IdList dealing_order(const IdList& ids_in, uint64_t seed) {
  IdList ids = ids_in;
  std::sort(ids.begin(), ids.end());
  if (std::adjacent_find(ids.begin(), ids.end()) != ids.end())
    throw std::invalid_argument("case ID " + *std::adjacent_find(ids.begin(), ids.end()) + " appears twice");
  if (seed == 0) return ids;
  Rng rng(seed);
  const int n = static_cast<int>(ids.size());
  IdList shuffled;
  for (int i : rng.sample_without_replacement(n, n)) shuffled.push_back(ids[i]);
  return shuffled;
}

// tr<size> c1..: `size` consecutive candidates (cyclic) starting at each of the first ones; as many
// combinations as there are distinct such sets, at most 5.
json labeled_combinations(const IdList& candidates, size_t size, const IdList& val) {
  json combs = json::object();
  const size_t m = candidates.size();
  const size_t count = std::min<size_t>(5, m == size ? 1 : m);
  for (size_t k = 0; k < count; ++k) {
    IdList train;
    for (size_t j = 0; j < size; ++j) train.push_back(candidates[(k + j) % m]);
    combs["c" + std::to_string(k + 1)] = {{"train", train}, {"val", val}};
  }
  return combs;
}

}  // namespace

std::string derived_splits_json(const IdList& ids_in, const std::string& dataset, uint64_t seed) {
  const IdList ids = dealing_order(ids_in, seed);
  const int n = static_cast<int>(ids.size());
  if (n < kMinDerivedSplitCases)
    throw std::invalid_argument("a derived split needs at least " + std::to_string(kMinDerivedSplitCases) +
                                " cases (test 2, validation 2, labelled 3); found " + std::to_string(n));
  // Every 4th case to the test set; when there are too few for two such positions the last
  // case is the second test case.
  const int n_test = std::max(2, n / 4);
  IdList test, rest;
  for (int i = 0; i < n; ++i) {
    const bool to_test = (i % 4 == 3 || (i == n - 1 && n < 8)) && static_cast<int>(test.size()) < n_test;
    (to_test ? test : rest).push_back(ids[i]);
  }
  const IdList val = {rest[rest.size() - 1], rest[rest.size() - 2]};
  rest.resize(rest.size() - 2);
  json labeled = json::object();
  for (size_t size : {1, 2, 8})
    if (rest.size() >= size) labeled["tr" + std::to_string(size)] = labeled_combinations(rest, size, val);
  const std::string order = seed == 0 ? "sorted order" : "shuffled with seed " + std::to_string(seed);
  const json j = {{"dataset", dataset},
                  {"source", "derived by contraseg from the cases found in the data directory (split seed " +
                                 std::to_string(seed) + ": " + order + ")"},
                  {"test", test},
                  {"pretrain", {{"name", "pool"}, {"train", rest}, {"val", val}}},
                  {"labeled", labeled},
                  {"benchmark", {{"name", "trall"}, {"train", rest}, {"val", val}}}};
  return j.dump(2) + "\n";
}

std::string find_splits_file(const std::string& dataset) {
  namespace fs = std::filesystem;
  const std::string name = dataset + ".json";
  std::vector<fs::path> dirs;
  if (const char* e = std::getenv("CONTRASEG_SPLITS_DIR"); e && *e) dirs.emplace_back(e);
  dirs.emplace_back(fs::path("experiments") / "splits");
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec)  // the executable lives in <source>/<build folder>/
    dirs.push_back(exe.parent_path().parent_path() / "experiments" / "splits");
  std::string tried;
  for (const auto& d : dirs) {
    if (fs::is_regular_file(d / name, ec)) return (d / name).string();
    tried += (tried.empty() ? "" : ", ") + d.string();
  }
  throw std::runtime_error("no split file " + name + " (looked in " + tried + "; set CONTRASEG_SPLITS_DIR)");
}

}  // namespace cs
