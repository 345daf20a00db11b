// `contraseg synth --out DIR [--overwrite] [--patients N] [--seed S] [--threads T] [acquisition options]`: writes
// the synthetic cardiac phantom (io/synth/synth.h) in the ACDC layout, one line of progress per patient,
// and its split.
#include <cmath>
#include <string>
#include <tuple>

#include "experiments/cli/cli.h"
#include "experiments/pipeline/data.h"
#include "experiments/pipeline/synth_dataset.h"

namespace cs {
namespace {

CommandSpec synth_spec() {
  return {"synth",
          "write a synthetic cardiac MRI phantom dataset (ACDC layout) and its split",
          "contraseg synth --out DIR [--overwrite] [--patients N] [--seed S] [--threads T] [acquisition options]",
          "Writes a synthetic cardiac cine-MRI dataset in the ACDC layout:\n"
          "  DIR/patientNNN/patientNNN_frame01.nii.gz      end-diastole image (int16)\n"
          "  DIR/patientNNN/patientNNN_frame01_gt.nii.gz   its labels (0 bg, 1 RV, 2 Myo, 3 LV)\n"
          "  DIR/patientNNN/patientNNN_frameXX[_gt].nii.gz end-systole\n"
          "  DIR/patientNNN/Info.cfg                       ED, ES, Group, Height, NbFrame, Weight\n"
          "  DIR/splits.json                               the split (as `contraseg split --data DIR`)\n"
          "Patients are split into the five ACDC groups (DCM, HCM, MINF, NOR, RV) in equal blocks.\n"
          "The split is the sorted deal (split seed 0, whatever --seed is), which spreads the groups\n"
          "over every set; it is written when there are at least 7 patients.\n"
          "The acquisition options make data that looks like another scanner's; each patient draws its\n"
          "values from the ranges (LO:HI, or one value). Without them the files are the default phantom.\n"
          "The storage options move voxels only: qform and sform follow, so world positions are kept.\n"
          "DIR must be new or empty; --overwrite replaces a dataset synth wrote there, whole (no file of\n"
          "it is left beside the new ones). The dataset is written into DIR.partial-PID and moved into\n"
          "place when complete, so an interrupted synth leaves no half dataset in DIR.\n",
          {option("out", "DIR", "dataset folder to write (new or empty, or see --overwrite)"),
           flag("overwrite", "replace the synth dataset in DIR (refused when DIR holds anything else, or is /, "
                             "the home or current directory or a folder above it)"),
           option("patients", "N", "number of patients, 1..999 (default 20)"),
           option("seed", "S", "phantom seed (default 0); patient k depends only on (S, k)"),
           option("threads", "T", "patients generated in parallel (default: hardware threads, at most 8)"),
           option("pixel", "LO:HI", "in-plane pixel size in mm (default 1.2:1.9); the matrix clamp (150..256 "
                                    "by default) scales with FOV / pixel size, up to 1024"),
           option("fov", "LO:HI", "field of view along y in mm (default 280:350); x is 1.0-1.2 times it"),
           option("slices", "LO:HI", "slice count, 2..512 (default 6:12); the stack covers the heart "
                                     "from base to apex, so the LV length follows slices x spacing"),
           option("spacing", "LO:HI",
                  "slice spacing in mm (default 5:10), rounded to 0.5 mm and kept within the range"),
           option("gain", "LO:HI", "intensity scale of the int16 values (default 150:900)"),
           choice("slice-order", {"base-apex", "apex-base"}, "which end slice 0 is (default base-apex)"),
           flag("transpose", "store the in-plane voxel axes swapped"),
           flag("flip-x", "store the voxel x axis reversed (after --transpose)"),
           flag("flip-y", "store the voxel y axis reversed (after --transpose)"),
           option("scl-slope", "S", "store int16 q with intensity = q * S + I in scl_slope/scl_inter; q "
                                    "outside int16 is clipped (default: no scaling; S non-zero)"),
           option("scl-inter", "I", "the intercept I of --scl-slope (default 0; alone: slope 1)")}};
}

// A range option whose values must be finite and positive, else a UsageError naming it.
std::pair<double, double> positive_range(const Args& a, const std::string& key, double lo, double hi) {
  const auto r = a.get_range(key, lo, hi);
  if (!(r.first > 0) || !std::isfinite(r.second))
    throw UsageError("option --" + key + ": '" + a.get(key, "") + "' must be positive and finite");
  return r;
}

double finite_double(const Args& a, const std::string& key, double def) {
  const double v = a.get_double(key, def);
  if (!std::isfinite(v)) throw UsageError("option --" + key + ": '" + a.get(key, "") + "' is not finite");
  return v;
}

// The acquisition options, checked before anything is written.
PhantomAcquisition acquisition(const Args& a) {
  PhantomAcquisition q;
  std::tie(q.pixel_lo, q.pixel_hi) = positive_range(a, "pixel", q.pixel_lo, q.pixel_hi);
  std::tie(q.fov_lo, q.fov_hi) = positive_range(a, "fov", q.fov_lo, q.fov_hi);
  std::tie(q.spacing_lo, q.spacing_hi) = positive_range(a, "spacing", q.spacing_lo, q.spacing_hi);
  std::tie(q.gain_lo, q.gain_hi) = positive_range(a, "gain", q.gain_lo, q.gain_hi);
  std::tie(q.slices_lo, q.slices_hi) = a.get_int_range("slices", q.slices_lo, q.slices_hi);
  if (q.slices_lo < 2) throw UsageError("option --slices: '" + a.get("slices", "") + "' must be at least 2 slices");
  if (a.get("slice-order", "base-apex") == "apex-base") q.slice_order = PhantomAcquisition::SliceOrder::ApexToBase;
  q.transpose = a.flag("transpose");
  q.flip_x = a.flag("flip-x");
  q.flip_y = a.flag("flip-y");
  if (a.has("scl-slope") || a.has("scl-inter")) {
    q.scl_slope = finite_double(a, "scl-slope", 1.0);
    q.scl_inter = finite_double(a, "scl-inter", 0.0);
    if (q.scl_slope == 0) throw UsageError("option --scl-slope: '" + a.get("scl-slope", "") + "' must be non-zero");
  }
  // What depends on several options together (matrix size, heart coverage, scaling limits).
  try {
    check_phantom_acquisition(q);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  return q;
}

int cmd_synth(const Args& args) {
  const std::string out = args.require("out");
  PhantomOptions opt;
  opt.patients = args.get_int("patients", 20);
  opt.seed = args.get_u64("seed", 0);
  opt.acq = acquisition(args);
  synthesise_dataset(out, opt, args.get_int("threads", 0), args.flag("overwrite"));
  return 0;
}

}  // namespace

CS_COMMAND(synth_spec(), cmd_synth);

}  // namespace cs
