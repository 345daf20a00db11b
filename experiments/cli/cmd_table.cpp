// `contraseg table RUN_DIR...`: the tables of several datasets' reproduce folders side by side, one
// column per dataset and labelled set (docs/method.md §9.3).
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/atomic_file.h"
#include "experiments/cli/cli.h"
#include "experiments/pipeline/reproduce.h"
#include "experiments/pipeline/results_table.h"
#include "io/paths.h"

namespace cs {
namespace {

CommandSpec table_spec() {
  return {"table", "several datasets' results side by side",
          "contraseg table RUN_DIR... [--table NAME] [--out FILE]",
          "Reads the results table that contraseg reproduce wrote into each RUN_DIR (one per dataset) and\n"
          "prints them as one: a row per initialisation, a column per dataset and labelled set, mean ± sd\n"
          "over the combinations with n. --table names the preset each folder ran (its\n"
          "results-PRESET.csv); --out also writes the table into FILE (not over an existing one).\n",
          {option("table", "NAME", "the preset the folders ran (default: their results.csv)"),
           option("out", "FILE", "write the table into FILE too")},
          "RUN_DIR..."};
}

int cmd_table(const Args& a) {
  if (a.positional().empty()) throw UsageError("table: name at least one reproduce folder (RUN_DIR...)");
  const std::string stem = a.has("table") ? "results-" + a.get("table", "") : "results";
  const std::string out = a.get("out", "");
  if (!out.empty() && path_exists(out))
    throw std::runtime_error("--out " + out + ": exists already; choose another file or delete it");
  std::vector<ResultsCsv> csvs;
  for (const auto& dir : a.positional()) {
    const std::string path = dir + "/" + stem + ".csv";
    std::ifstream f(path);
    if (!f)
      throw std::runtime_error(path + ": no such table; run contraseg reproduce --out " + dir +
                               (a.has("table") ? " --table " + a.get("table", "") : std::string()) + " first");
    std::stringstream text;
    text << f.rdbuf();
    csvs.push_back({path, text.str()});
  }
  const std::string md = side_by_side_markdown(csvs);
  if (!out.empty()) write_file_atomic(out, md);
  std::printf("%s", md.c_str());
  return 0;
}

}  // namespace
CS_COMMAND(table_spec(), cmd_table);
}  // namespace cs
