// `contraseg synth --out DIR [--patients N] [--seed S] [--threads T]`: writes the synthetic cardiac
// phantom (io/synth.h) in the ACDC layout, one line of progress per patient, and its split.
#include <string>

#include "experiments/cli/cli.h"
#include "experiments/pipeline/data.h"

namespace cs {
namespace {

CommandSpec synth_spec() {
  return {"synth",
          "write a synthetic cardiac MRI phantom dataset (ACDC layout) and its split",
          "contraseg synth --out DIR [--patients N] [--seed S] [--threads T]",
          "Writes a synthetic cardiac cine-MRI dataset in the ACDC layout:\n"
          "  DIR/patientNNN/patientNNN_frame01.nii.gz      end-diastole image (int16)\n"
          "  DIR/patientNNN/patientNNN_frame01_gt.nii.gz   its labels (0 bg, 1 RV, 2 Myo, 3 LV)\n"
          "  DIR/patientNNN/patientNNN_frameXX[_gt].nii.gz end-systole\n"
          "  DIR/patientNNN/Info.cfg                       ED, ES, Group, Height, NbFrame, Weight\n"
          "  DIR/splits.json                               the split (as `contraseg split --data DIR`)\n"
          "Patients are split into the five ACDC groups (DCM, HCM, MINF, NOR, RV) in equal blocks.\n"
          "The split is the sorted deal (split seed 0, whatever --seed is), which spreads the groups\n"
          "over every set; it is written when there are at least 7 patients.\n",
          {option("out", "DIR", "dataset folder to write"),
           option("patients", "N", "number of patients, 1..999 (default 20)"),
           option("seed", "S", "phantom seed (default 0); patient k depends only on (S, k)"),
           option("threads", "T", "patients generated in parallel (default: hardware threads, at most 8)")}};
}

int cmd_synth(const Args& args) {
  const std::string out = args.require("out");
  PhantomOptions opt;
  opt.patients = args.get_int("patients", 20);
  opt.seed = args.get_u64("seed", 0);
  synthesise_dataset(out, opt, args.get_int("threads", 0));
  return 0;
}

}  // namespace

CS_COMMAND(synth_spec(), cmd_synth);

}  // namespace cs
