// `contraseg preprocess`: docs/method.md §6.2 applied to every case of a dataset, written as
// <out>/<id>/img_cropped.nii.gz (float32, normalised, resampled, cropped/padded) and
// mask_cropped.nii.gz (uint8), with a geometry that keeps each voxel's world position.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <string>

#include "experiments/cli/cli.h"
#include "experiments/pipeline/output_folder.h"
#include "io/datasets/datasets.h"
#include "io/formats/nifti.h"
#include "io/datasets/n4_cache.h"
#include "io/datasets/preprocess.h"

namespace cs {
namespace {

CommandSpec preprocess_spec() {
  return {"preprocess", "normalise, resample and crop a dataset (docs/method.md §6.2) into NIfTI volumes",
          "contraseg preprocess --dataset acdc|prostate|mmwhs --data DIR --out DIR [options]",
          "Normalises each volume by its 1st/99th percentiles, resamples every slice in-plane to the\n"
          "dataset's target resolution and centre-crops or pads it to the network input size.\n"
          "Writes OUT/<id>/img_cropped.nii.gz and, for labelled cases, OUT/<id>/mask_cropped.nii.gz.\n"
          "With --n4, each image is N4-corrected first, through a cache of corrected volumes\n"
          "(--n4-cache; default $XDG_CACHE_HOME/contraseg/n4 or ~/.cache/contraseg/n4).\n",
          {dataset_option("the dataset (its layout, resolution and size)"), data_option("dataset root"),
           option("out", "DIR", "folder to write"),
           option("phase", "frame01|ED|ES", "ACDC frame to use (default frame01, as the reference)"),
           option("ids", "A,B,...", "only these case ids"),
           flag("n4", "N4 bias-field correction first (needs a build with ITK; docs/method.md §6.2)"),
           option("n4-cache", "DIR", "where --n4 keeps corrected volumes between runs (default: see above)"),
           flag("overwrite", "replace the volumes an earlier preprocess wrote into --out")}};
}

// What preprocess writes: <id>/img_cropped.nii.gz and <id>/mask_cropped.nii.gz. The first entry
// of `dir` that is something else ("" when none); --overwrite replaces nothing else.
std::string foreign_to_preprocess(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_directory() || e.is_symlink()) return e.path().string();
    for (const auto& f : fs::directory_iterator(e.path())) {
      const std::string name = f.path().filename().string();
      if (f.is_symlink() || !f.is_regular_file() || (name != "img_cropped.nii.gz" && name != "mask_cropped.nii.gz"))
        return f.path().string();
    }
  }
  return "";
}

int cmd_preprocess(const Args& args) {
  const std::string dataset = args.require("dataset"), data = args.require("data"), out = args.require("out");
  const PreprocessParams p = dataset_params(dataset);
  const bool n4 = args.flag("n4");
  if (args.has("n4-cache") && !n4) throw UsageError("--n4-cache is where --n4 keeps corrected volumes; add --n4");
  if (n4) require_n4("preprocess --n4");
  // Resolved now, so that a missing HOME fails before the output folder exists.
  const std::string n4_cache = !n4 ? "" : args.has("n4-cache") ? args.get("n4-cache", "") : default_n4_cache_dir();
  DatasetOptions opt;
  opt.acdc_phase = parse_acdc_phase(args.get("phase", "frame01"));
  std::vector<Case> cases = list_cases(dataset, data, opt);
  if (args.has("ids")) cases = select_cases(cases, split_list(args.get("ids", "")));

  std::printf("preprocess %s: %zu cases from %s -> %s (%.5g x %.5g mm, %dx%d)%s\n", dataset.c_str(), cases.size(),
              data.c_str(), out.c_str(), p.target_dx, p.target_dy, p.out_h, p.out_w, n4 ? ", N4" : "");
  std::fflush(stdout);
  // Written whole or not at all (output_folder.h); a failing case leaves nothing behind.
  OutputFolder folder(out, args.flag("overwrite"), "preprocess", foreign_to_preprocess);
  const auto t0 = std::chrono::steady_clock::now();
  size_t k = 0;
  for (const Case& c : cases) {
    ++k;
    LoadedCase lc = load_case(c, /*require_label=*/false);
    if (n4) {
      N4CacheRequest req;
      req.source_file = c.image;
      req.channel = c.channel;
      req.dir = n4_cache;
      req.what = "case " + c.id;
      lc.image = n4_cached(lc.image, req, [](const std::string& line) {
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
      });
    }
    const SliceStack s = preprocess_volume(lc.image, lc.has_label() ? &lc.label : nullptr, p, "case " + c.id);
    const std::string dir = (std::filesystem::path(folder.partial()) / c.id).string();
    std::filesystem::create_directories(dir);
    write_nifti_image(dir + "/img_cropped.nii.gz", stack_to_volume(s, lc.image, p, false));
    if (lc.has_label()) write_nifti_label(dir + "/mask_cropped.nii.gz", stack_to_volume(s, lc.image, p, true));
    const SliceGeometry g = slice_geometry(lc.image, p);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[%zu/%zu] %s: %dx%dx%d at %.4gx%.4g mm -> %dx%d -> %d slices of %dx%d%s  (%.1f s)\n", k,
                cases.size(), c.id.c_str(), g.nx, g.ny, g.nz, lc.image.dx, lc.image.dy, g.rx, g.ry, s.z, s.h, s.w,
                lc.has_label() ? "" : " (no label)", secs);
    std::fflush(stdout);
  }
  folder.publish();
  if (folder.replaces()) std::printf("preprocess: replaced the volumes that were in %s\n", out.c_str());
  return 0;
}

}  // namespace

CS_COMMAND(preprocess_spec(), cmd_preprocess);

}  // namespace cs
