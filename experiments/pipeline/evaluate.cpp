// Evaluation (docs/method.md §7): predict every test case with the run's best checkpoint, map back to the
// native grid, and write per-case metrics, a summary, NIfTI predictions and overlay pictures.
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autograd/atomic_file.h"
#include "experiments/pipeline/console.h"
#include "experiments/pipeline/data.h"
#include "experiments/pipeline/output_folder.h"
#include "io/paths.h"
#include "experiments/pipeline/evaluate.h"
#include "experiments/evaluation/inference.h"
#include "experiments/evaluation/metrics.h"
#include "experiments/evaluation/pictures.h"
#include "experiments/pipeline/run_folder.h"
#include "experiments/pipeline/stages.h"
#include "experiments/pipeline/training.h"
#include "io/formats/nifti.h"
#include "nn/checkpoint.h"

namespace cs {
namespace {

std::string num(double v) { return std::isnan(v) ? "nan" : fmt::format("{:.6f}", v); }
nlohmann::json jnum(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }

// Slice z of a native volume as [x][y] (rows = x), the display convention of io/datasets/preprocess.h.
template <typename T>
std::vector<T> native_slice(const Volume& v, int z) {
  std::vector<T> out(static_cast<size_t>(v.nx) * v.ny);
  for (int x = 0; x < v.nx; ++x)
    for (int y = 0; y < v.ny; ++y) out[static_cast<size_t>(x) * v.ny + y] = static_cast<T>(v.at(x, y, z));
  return out;
}


// What an evaluation writes into its folder; --overwrite replaces nothing else.
std::string foreign_to_evaluation(const std::filesystem::path& dir) {
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    const bool file = e.is_regular_file() && !e.is_symlink(), folder = e.is_directory() && !e.is_symlink();
    if (!((file && (name == "metrics_per_case.csv" || name == "summary.json")) ||
          (folder && (name == "predictions" || name == "pictures"))))
      return e.path().string();
  }
  return "";
}

}  // namespace

std::string class_name(const PreprocessParams& p, int c) {
  return c < static_cast<int>(p.class_names.size()) ? p.class_names[c] : "class" + std::to_string(c);
}

EvalResult run_evaluate(const Settings& settings, const std::string& run_dir, const std::string& final_dir,
                        const std::string& which, bool overwrite, int pictures) {
  if (path_exists(final_dir) && !overwrite)
    throw std::runtime_error(final_dir + ": holds an evaluation already; pass --overwrite to replace it");
  apply_threads(settings);
  const Device dev = checked_device(settings);
  const std::string ck = run_checkpoint(run_dir, which);
  DataSource data(settings);
  data.check_cases({{"test set", data.splits().test(), true}});  // before anything is written
  // Evaluation output appears whole or not at all (output_folder.h).
  OutputFolder folder(final_dir, overwrite, "evaluate", foreign_to_evaluation);
  const std::string& out_dir = folder.partial();
  make_dirs(out_dir + "/predictions");
  make_dirs(out_dir + "/pictures");
  const PreprocessParams& p = data.params();
  auto model = make_model(settings, Stage::Finetune, dev);
  load_checkpoint(ck, model->params());
  const int C = p.num_classes;
  const auto& names = p.class_names;

  std::string csv = "case";
  for (int c = 0; c < C; ++c) csv += ",dice_" + class_name(p, c);
  for (int c = 0; c < C; ++c) csv += ",hd95_mm_" + class_name(p, c);
  csv += ",foreground_dice,foreground_hd95_mm\n";
  std::vector<CaseMetrics> all;
  const IdList ids = data.splits().test();
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto cases = data.prepare({ids[i]}, true, true, "");
    const PreparedCase& c = cases[0];
    const Volume pred = predict_volume(*model, c, p);
    write_nifti_label(out_dir + "/predictions/" + c.id + ".nii.gz", pred);
    CaseMetrics m = case_metrics(c.id, pred, c.native_label, C, true);
    csv += c.id;
    for (double d : m.dice) csv += "," + num(d);
    for (double d : m.hd95) csv += "," + num(d);
    csv += "," + num(m.foreground_dice) + "," + num(m.foreground_hd95) + "\n";
    if (static_cast<int>(i) < pictures) {
      const int z = c.native_image.nz / 2;
      write_overlay_png(out_dir + "/pictures/" + c.id + "_slice" + std::to_string(z) + ".png",
                        native_slice<float>(c.native_image, z), native_slice<uint8_t>(c.native_label, z),
                        native_slice<uint8_t>(pred, z), c.native_image.nx, c.native_image.ny, {C, names});
    }
    all.push_back(std::move(m));
  }
  write_file_atomic(out_dir + "/metrics_per_case.csv", csv);

  nlohmann::json summary;
  EvalResult r;
  r.cases = static_cast<int>(all.size());
  std::vector<double> fg_dice, fg_hd;
  for (const auto& m : all) {
    fg_dice.push_back(m.foreground_dice);
    fg_hd.push_back(m.foreground_hd95);
  }
  r.foreground_mean_dice = nanmean(fg_dice);
  r.foreground_mean_hd95 = nanmean(fg_hd);
  for (int c = 0; c < C; ++c) {
    std::vector<double> d, hd;
    for (const auto& m : all) {
      d.push_back(m.dice[c]);
      hd.push_back(m.hd95[c]);
    }
    summary["mean_dice"][class_name(p, c)] = jnum(nanmean(d));
    summary["mean_hd95_mm"][class_name(p, c)] = jnum(nanmean(hd));
  }
  summary["foreground_mean_dice"] = jnum(r.foreground_mean_dice);
  summary["foreground_mean_hd95_mm"] = jnum(r.foreground_mean_hd95);
  summary["cases"] = r.cases;
  summary["checkpoint"] = ck;
  summary["nan_rule"] =
      "Dice is NaN for a class absent from both prediction and ground truth, HD95 is NaN when either is empty; "
      "NaNs are left out of every mean (null in this file).";
  write_file_atomic(out_dir + "/summary.json", summary.dump(2) + "\n");
  // Training curves of the run, next to the metrics.
  const Series loss = read_loss_curve(run_dir + "/log.txt"), val = read_validation_curve(run_dir + "/log.txt");
  if (loss.x.size() > 1) write_curve_png(out_dir + "/pictures/loss.png", {loss}, {"Training loss", "step", "loss"});
  if (val.x.size() > 1)
    write_curve_png(out_dir + "/pictures/validation_dice.png", {val}, {"Validation foreground Dice", "step", "Dice"});
  folder.publish();
  say(fmt::format("evaluate: {} test cases, foreground mean Dice {:.4f}, HD95 {:.2f} mm -> {}", r.cases,
                  r.foreground_mean_dice, r.foreground_mean_hd95, final_dir));
  return r;
}

}  // namespace cs
