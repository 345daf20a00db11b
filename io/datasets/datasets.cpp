#include "io/datasets/datasets.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <stdexcept>

#include "io/formats/nifti.h"

namespace cs {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}
bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// Entries of a folder (names only), skipping hidden files such as macOS "._" companions.
std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] != '.') out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void check_root(const std::string& root, const char* dataset) {
  if (!is_dir(root)) fail(std::string(dataset) + " dataset: no such folder " + root);
}

std::string pad(const std::string& digits, size_t width) {
  std::string s = digits;
  // strip leading zeros beyond the width, then pad ("00" -> "000", "7" -> "007")
  while (s.size() > width && s[0] == '0') s.erase(0, 1);
  return std::string(width > s.size() ? width - s.size() : 0, '0') + s;
}

void sort_and_check_unique(std::vector<Case>& cases, const std::string& root) {
  std::sort(cases.begin(), cases.end(), [](const Case& a, const Case& b) { return a.id < b.id; });
  for (size_t i = 1; i < cases.size(); ++i)
    if (cases[i].id == cases[i - 1].id)
      fail(root + ": case " + cases[i].id + " appears twice (" + cases[i - 1].image + ", " + cases[i].image + ")");
}

// The reference code's layout: numbered folders <id>/img.nii.gz, each with an optional label file.
void add_numbered_cases(const std::string& root, const char* dataset, size_t id_width, const char* label_name,
                        LabelRemap remap, std::vector<Case>& cases) {
  for (const std::string& name : entries(root)) {
    const fs::path dir = fs::path(root) / name;
    if (!is_dir(dir) || name.find_first_not_of("0123456789") != std::string::npos) continue;
    Case c;
    c.id = pad(name, id_width);
    c.remap = remap;
    if (!is_file(dir / "img.nii.gz"))
      fail(std::string(dataset) + " case " + c.id + ": missing image " + (dir / "img.nii.gz").string());
    c.image = (dir / "img.nii.gz").string();
    if (is_file(dir / label_name)) c.label = (dir / label_name).string();
    cases.push_back(c);
  }
}

// ---- ACDC

int acdc_frame(const fs::path& dir, const std::string& id, AcdcPhase phase) {
  if (phase == AcdcPhase::Frame01) return 1;
  const fs::path cfg = dir / "Info.cfg";
  std::ifstream in(cfg);
  if (!in) fail("ACDC case " + id + ": missing " + cfg.string() + " (needed for the ED/ES frame numbers)");
  const std::string key = phase == AcdcPhase::ED ? "ED" : "ES";
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string k = line.substr(0, colon), v = line.substr(colon + 1);
    k.erase(std::remove_if(k.begin(), k.end(), ::isspace), k.end());
    v.erase(std::remove_if(v.begin(), v.end(), ::isspace), v.end());
    if (k != key) continue;
    if (v.empty() || v.size() > 3 || v.find_first_not_of("0123456789") != std::string::npos)
      fail("ACDC case " + id + ": " + cfg.string() + ": bad " + key + " value '" + v + "'");
    const int f = std::stoi(v);
    if (f < 1) fail("ACDC case " + id + ": " + cfg.string() + ": bad " + key + " value '" + v + "'");
    return f;
  }
  fail("ACDC case " + id + ": " + cfg.string() + " has no " + key + " entry");
}

// ---- MM-WHS label values, in the order of classes 1..7
constexpr int kMmwhsRaw[7] = {205, 420, 500, 550, 600, 820, 850};

}  // namespace

AcdcPhase parse_acdc_phase(const std::string& s) {
  std::string l = s;
  std::transform(l.begin(), l.end(), l.begin(), ::tolower);
  if (l == "frame01" || l == "frame1" || l == "01") return AcdcPhase::Frame01;
  if (l == "ed") return AcdcPhase::ED;
  if (l == "es") return AcdcPhase::ES;
  throw std::invalid_argument("ACDC phase must be frame01, ED or ES, not '" + s + "'");
}

std::vector<Case> list_acdc(const std::string& root, AcdcPhase phase) {
  check_root(root, "ACDC");
  static const std::regex patient_re("patient([0-9]{3})");
  std::vector<Case> cases;
  for (const fs::path& base : {fs::path(root), fs::path(root) / "training", fs::path(root) / "testing"}) {
    if (!is_dir(base)) continue;
    for (const std::string& name : entries(base)) {
      std::smatch m;
      if (!std::regex_match(name, m, patient_re) || !is_dir(base / name)) continue;
      Case c;
      c.id = m[1].str();
      const int frame = acdc_frame(base / name, c.id, phase);
      char stem[64];
      std::snprintf(stem, sizeof(stem), "%s_frame%02d", name.c_str(), frame);
      const fs::path img = base / name / (std::string(stem) + ".nii.gz");
      const fs::path gt = base / name / (std::string(stem) + "_gt.nii.gz");
      if (!is_file(img)) fail("ACDC case " + c.id + ": missing image " + img.string());
      c.image = img.string();
      if (is_file(gt)) c.label = gt.string();
      cases.push_back(c);
    }
  }
  if (cases.empty()) fail(root + ": no ACDC patientNNN folders (in the root, training/ or testing/)");
  sort_and_check_unique(cases, root);
  return cases;
}

std::vector<Case> list_prostate(const std::string& root) {
  check_root(root, "Prostate");
  std::vector<Case> cases;
  const fs::path images = fs::path(root) / "imagesTr", labels = fs::path(root) / "labelsTr";
  if (is_dir(images)) {  // MSD Task05
    static const std::regex re("prostate_([0-9]+)\\.nii(\\.gz)?");
    for (const std::string& name : entries(images)) {
      std::smatch m;
      if (!std::regex_match(name, m, re)) continue;
      Case c;
      c.id = pad(m[1].str(), 3);
      c.image = (images / name).string();
      if (is_file(labels / name)) c.label = (labels / name).string();
      cases.push_back(c);
    }
    // MSD's unlabelled test images
    const fs::path ts = fs::path(root) / "imagesTs";
    if (is_dir(ts))
      for (const std::string& name : entries(ts)) {
        std::smatch m;
        if (!std::regex_match(name, m, re)) continue;
        cases.push_back({pad(m[1].str(), 3), (ts / name).string(), "", 0, LabelRemap::None});
      }
  } else {  // reference layout <id>/img.nii.gz + mask.nii.gz
    add_numbered_cases(root, "Prostate", 3, "mask.nii.gz", LabelRemap::None, cases);
  }
  if (cases.empty())
    fail(root + ": no Prostate cases (expected imagesTr/prostate_NN.nii.gz or <id>/img.nii.gz)");
  sort_and_check_unique(cases, root);
  return cases;
}

std::vector<Case> list_mmwhs(const std::string& root) {
  check_root(root, "MM-WHS");
  std::vector<Case> cases;
  static const std::regex re("mr_train_([0-9]{4})_image\\.nii(\\.gz)?");
  for (const fs::path& base : {fs::path(root), fs::path(root) / "mr_train"}) {
    if (!is_dir(base)) continue;
    for (const std::string& name : entries(base)) {
      std::smatch m;
      if (!std::regex_match(name, m, re)) continue;
      Case c;
      c.id = m[1].str();
      c.image = (base / name).string();
      c.remap = LabelRemap::Mmwhs;
      const std::string lab = "mr_train_" + c.id + "_label.nii" + m[2].str();
      if (is_file(base / lab)) c.label = (base / lab).string();
      cases.push_back(c);
    }
  }
  if (cases.empty())  // reference layout <id>/img.nii.gz + seg.nii.gz
    add_numbered_cases(root, "MM-WHS", 4, "seg.nii.gz", LabelRemap::Mmwhs, cases);
  if (cases.empty())
    fail(root + ": no MM-WHS MR cases (expected mr_train_NNNN_image.nii.gz or <id>/img.nii.gz)");
  sort_and_check_unique(cases, root);
  return cases;
}

std::vector<Case> list_nnunet(const std::string& root) {
  check_root(root, "nnU-Net");
  const fs::path meta = fs::path(root) / "dataset.json";
  std::ifstream in(meta);
  if (!in) fail(root + ": not an nnU-Net raw dataset (no dataset.json)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    fail(meta.string() + ": not valid JSON (" + e.what() + ")");
  }
  std::string ending = ".nii.gz";
  if (j.is_object() && j.contains("file_ending")) {
    if (!j["file_ending"].is_string()) fail(meta.string() + ": file_ending must be a string");
    ending = j["file_ending"].get<std::string>();
  }
  if (ending != ".nii.gz" && ending != ".nii")
    fail(meta.string() + ": file_ending '" + ending + "' is not NIfTI (.nii or .nii.gz)");
  std::vector<Case> cases;
  const std::string suffix = "_0000" + ending;
  for (const char* sub : {"imagesTr", "imagesTs"}) {
    const fs::path dir = fs::path(root) / sub;
    if (!is_dir(dir)) continue;
    const bool train = std::string(sub) == "imagesTr";
    for (const std::string& name : entries(dir)) {
      if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
        continue;
      Case c;
      c.id = name.substr(0, name.size() - suffix.size());
      c.image = (dir / name).string();
      const fs::path lab = fs::path(root) / "labelsTr" / (c.id + ending);
      if (train) {
        if (!is_file(lab)) fail("nnU-Net case " + c.id + ": missing label " + lab.string());
        c.label = lab.string();
      }
      cases.push_back(c);
    }
  }
  if (cases.empty()) fail(root + ": no nnU-Net cases (expected imagesTr/<case>_0000" + ending + ")");
  sort_and_check_unique(cases, root);
  return cases;
}

std::vector<Case> list_cases(const std::string& dataset, const std::string& root, const DatasetOptions& opt) {
  if (dataset == "acdc") return list_acdc(root, opt.acdc_phase);
  if (dataset == "prostate") return list_prostate(root);
  if (dataset == "mmwhs") return list_mmwhs(root);
  if (dataset == "nnunet") return list_nnunet(root);
  throw std::invalid_argument("unknown dataset '" + dataset + "' (acdc, prostate, mmwhs or nnunet)");
}

std::vector<Case> select_cases(const std::vector<Case>& all, const IdList& ids) {
  std::map<std::string, const Case*> by_id;
  for (const Case& c : all) by_id[c.id] = &c;
  std::vector<Case> out;
  std::string missing;
  for (const std::string& id : ids) {
    auto it = by_id.find(id);
    if (it == by_id.end())
      missing += (missing.empty() ? "" : ", ") + id;
    else
      out.push_back(*it->second);
  }
  if (!missing.empty())
    fail("case" + std::string(missing.find(',') == std::string::npos ? " " : "s ") + missing +
         " not found in the dataset (" + std::to_string(all.size()) + " cases listed)");
  return out;
}

void volume_affine(const Volume& v, double m[4][4], bool* coded) {
  const bool s = v.sform_code > 0, q = v.qform_code > 0;
  if (coded) *coded = s || q;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) m[r][c] = s ? v.sto_xyz[r][c] : q ? v.qto_xyz[r][c] : (r == c ? 1.0 : 0.0);
  if (!s && !q) {
    m[0][0] = v.dx;
    m[1][1] = v.dy;
    m[2][2] = v.dz;
  }
}

void remap_mmwhs_labels(Volume& label, const std::string& what) {
  float hi = 0;
  for (float x : label.data) hi = std::max(hi, x);
  if (hi <= 7) {  // already remapped: values must be 0..7 integers
    for (float x : label.data)
      if (x < 0 || x != std::floor(x))
        fail(what + ": label value " + std::to_string(x) + " is not an MM-WHS class");
    return;
  }
  std::set<float> unknown;
  for (float& x : label.data) {
    if (x == 0) continue;
    int k = 0;
    while (k < 7 && x != static_cast<float>(kMmwhsRaw[k])) ++k;
    if (k < 7)
      x = static_cast<float>(k + 1);
    else if (x == 421.f)
      x = 2.f;  // LA, mislabelled as 421 in some MM-WHS volumes
    else if (unknown.size() < 8)
      unknown.insert(x);
  }
  if (!unknown.empty()) {
    std::string list;
    for (float u : unknown) list += (list.empty() ? "" : ", ") + std::to_string(static_cast<long long>(u));
    fail(what + ": label values " + list + " are not MM-WHS labels (0, 205, 420, 500, 550, 600, 820, 850)");
  }
}

LoadedCase load_case(const Case& c, bool require_label) {
  LoadedCase out;
  out.id = c.id;
  const std::string what = "case " + c.id;
  if (!is_file(c.image)) fail(what + ": missing image " + c.image);
  try {
    out.image = read_nifti(c.image, c.channel);
  } catch (const std::exception& e) {
    fail(what + ": " + e.what());
  }
  if (c.label.empty()) {
    if (require_label) fail(what + ": no label file");
    return out;
  }
  if (!is_file(c.label)) fail(what + ": missing label " + c.label);
  try {
    out.label = read_nifti(c.label, 0);
  } catch (const std::exception& e) {
    fail(what + ": " + e.what());
  }
  const Volume &a = out.image, &b = out.label;
  if (a.nx != b.nx || a.ny != b.ny || a.nz != b.nz)
    fail(what + ": image " + std::to_string(a.nx) + "x" + std::to_string(a.ny) + "x" + std::to_string(a.nz) +
         " and label " + std::to_string(b.nx) + "x" + std::to_string(b.ny) + "x" + std::to_string(b.nz) +
         " dims differ");
  const float da[3] = {a.dx, a.dy, a.dz}, db[3] = {b.dx, b.dy, b.dz};
  for (int i = 0; i < 3; ++i)
    if (std::fabs(da[i] - db[i]) > 1e-3 * std::max(std::fabs(da[i]), std::fabs(db[i])))
      fail(what + ": image and label voxel sizes differ (" + std::to_string(da[i]) + " vs " + std::to_string(db[i]) +
           " along axis " + std::to_string(i) + ")");
  double ma[4][4], mb[4][4];
  bool ca = false, cb = false;
  volume_affine(a, ma, &ca);
  volume_affine(b, mb, &cb);
  if (ca && cb)
    for (int r = 0; r < 3; ++r)
      for (int k = 0; k < 4; ++k) {
        const double scale = std::max(1.0, std::fabs(ma[r][k]));
        if (std::fabs(ma[r][k] - mb[r][k]) > 1e-3 * scale)
          fail(what + ": image and label affines differ (row " + std::to_string(r) + ", column " + std::to_string(k) +
               ": " + std::to_string(ma[r][k]) + " vs " + std::to_string(mb[r][k]) + ")");
      }
  if (c.remap == LabelRemap::Mmwhs) remap_mmwhs_labels(out.label, what);
  return out;
}

}  // namespace cs
