#include "io/splits.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

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

Splits load_splits(const std::string& path, const std::string& mode) {
  if (mode != "paper" && mode != "reference")
    throw std::invalid_argument("splits mode must be \"paper\" or \"reference\", not \"" + mode + "\"");
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
  s.mode = mode;
  if (!j["dataset"].is_string()) throw std::runtime_error(path + ": \"dataset\" must be a string");
  s.dataset = j["dataset"].get<std::string>();
  s.test_ = ids(j["test"], "test", path);
  s.pretrain_ = labeled_set(j["pretrain"], "pretrain", path);
  json bench = j["benchmark"];
  if (mode == "reference" && j.contains("reference") && j["reference"].contains("benchmark"))
    bench = j["reference"]["benchmark"];
  s.benchmark_ = labeled_set(bench, "benchmark", path);
  s.benchmark_name_ = bench.value("name", std::string("trall"));
  if (!j["labeled"].is_object()) throw std::runtime_error(path + ": \"labeled\" must be an object");
  for (const auto& [tr, combs] : j["labeled"].items()) {
    if (!combs.is_object()) throw std::runtime_error(path + ": labeled." + tr + " must be an object");
    for (const auto& [c, set] : combs.items()) s.sets_[tr][c] = labeled_set(set, "labeled." + tr + "." + c, path);
  }
  if (mode == "reference" && j.contains("reference") && j["reference"].contains("labeled"))
    for (const auto& [tr, combs] : j["reference"]["labeled"].items())
      for (const auto& [c, set] : combs.items())
        s.sets_[tr][c] = labeled_set(set, "reference.labeled." + tr + "." + c, path);
  return s;
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
