// `contraseg split --data DIR`: a split file for a dataset folder that has none (a synthetic one,
// or cases other than the paper's), dealt from the folder's own cases (io/datasets/splits.h).
#include <cstdio>
#include <stdexcept>
#include <string>

#include "experiments/cli/cli.h"
#include "experiments/config.h"
#include "experiments/pipeline/data.h"

namespace cs {
namespace {

CommandSpec split_spec() {
  return {"split", "derive a split file from the cases of a dataset folder",
          "contraseg split --data DIR [--layout L] [--dataset D] [--out FILE] [--seed S] [--force]",
          "Lists the cases of DIR and deals them into a split in the format of experiments/splits/*.json:\n"
          "every 4th case to the test set (at least 2), the last two of the others to the validation pair,\n"
          "the remaining ones to the pre-training pool and the labelled sets tr1, tr2 and tr8 (c1..c5,\n"
          "where there are enough cases). Seed 0 deals the sorted case ids, which spreads ACDC's\n"
          "consecutive disease groups over every set; another seed shuffles them first. Needs at least\n"
          "7 cases. The stages read DIR/splits.json by themselves.\n",
          {option("data", "DIR", "dataset root"),
           choice("layout", config_choices("layout"), "directory layout (default auto: the dataset's)"),
           choice("dataset", config_choices("dataset"), "the dataset the split is for (default acdc)"),
           option("out", "FILE", "split file to write (default DIR/splits.json)"),
           option("seed", "S", "split seed (default 0: sorted order)"),
           flag("force", "replace an existing split file")}};
}

int cmd_split(const Args& a) {
  const std::string data = a.require("data");
  const std::string layout = a.get("layout", "auto"), dataset = a.get("dataset", "acdc");
  const std::string out = a.get("out", data + "/splits.json");
  const uint64_t seed = a.get_u64("seed", 0);
  if (path_exists(out) && !a.flag("force"))
    throw std::runtime_error(out + " exists; pass --force to replace it");
  const Splits s = write_folder_split(data, layout, dataset, out, seed);
  std::printf("split: %zu cases of %s (%s layout), split seed %llu -> %s\n%s", s.all_ids().size(), data.c_str(),
              dataset_layout(layout, dataset).c_str(), static_cast<unsigned long long>(seed), out.c_str(),
              describe_split(s).c_str());
  return 0;
}

}  // namespace

CS_COMMAND(split_spec(), cmd_split);

}  // namespace cs
