#include "experiments/pipeline/results_table.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "experiments/config.h"

namespace cs {
namespace {

// "0.712 ± 0.034 (n=5)" over the runs' non-NaN values; "–" when there is none.
std::string mean_sd(const std::vector<double>& values) {
  std::vector<double> v;
  for (double x : values)
    if (!std::isnan(x)) v.push_back(x);
  if (v.empty()) return "–";
  double mean = 0, var = 0;
  for (double x : v) mean += x;
  mean /= v.size();
  for (double x : v) var += (x - mean) * (x - mean);
  const double sd = v.size() > 1 ? std::sqrt(var / (v.size() - 1)) : 0.0;
  return fmt::format("{:.3f} ± {:.3f} (n={})", mean, sd, v.size());
}

const ProbeRecord* probe_of(const ResultsTable& t, const std::string& name) {
  for (const auto& p : t.probes)
    if (p.name == name) return &p.record;
  return nullptr;
}

std::string header(const std::string& first, const std::vector<std::string>& columns) {
  std::string md = "| " + first + " |";
  for (const auto& c : columns) md += " " + c + " |";
  md += "\n|---|";
  for (size_t i = 0; i < columns.size(); ++i) md += "---|";
  return md + "\n";
}

}  // namespace

std::string results_markdown(const ResultsTable& t) {
  std::string md = fmt::format(
      "# {}\n\nMean foreground Dice on the test cases; mean ± standard deviation over the combinations of each "
      "labelled set, with their number n. The last column is the held-out probe of the row's pre-training at its "
      "last reading, beside what a network that learned nothing reads.\n\n",
      t.title);
  std::vector<std::string> columns = t.sets;
  columns.push_back("pre-training probe (held-out)");
  md += header("initialisation", columns);
  std::vector<std::string> marks, marked;  // footnotes of pre-trainings that learned nothing, and their runs
  for (const auto& row : t.plan->rows) {
    std::vector<std::string> probe_cells, row_marks;
    for (const PretrainRun* run : t.plan->chain(row)) {
      const ProbeRecord* r = probe_of(t, run->name);
      if (!r) continue;
      for (const auto& reading : r->readings) probe_cells.push_back(describe(reading));
      if (r->nothing_learned.empty()) continue;
      auto at = std::find(marked.begin(), marked.end(), run->name);
      if (at == marked.end()) {  // one footnote per pre-training, however many rows start from it
        marks.push_back(fmt::format("the {} pre-training ({}) reads {} on held-out data, no better than a network "
                                    "that learned nothing: likely {}.",
                                    run->label, run->name, describe(r->readings), r->nothing_learned));
        at = marked.insert(marked.end(), run->name);
      }
      row_marks.push_back(fmt::format("†{}", at - marked.begin() + 1));
    }
    const std::string label = row_marks.empty() ? row.label : fmt::format("{} ({})", row.label, fmt::join(row_marks, ", "));
    md += "| " + label + " |";
    for (const auto& tr : t.sets) {
      std::vector<double> v;
      for (const auto& s : t.runs)
        if (s.row == row.key && s.tr == tr) v.push_back(s.dice);
      md += " " + mean_sd(v) + " |";
    }
    std::string probes;
    for (const auto& c : probe_cells) probes += (probes.empty() ? "" : "; ") + c;
    md += " " + (row.init.empty() ? std::string("no pre-training") : probes.empty() ? std::string("–") : probes) +
          " |\n";
  }
  for (size_t i = 0; i < marks.size(); ++i)
    md += fmt::format("\n†{} A row marked so does not measure its method: {}\n", i + 1, marks[i]);
  for (const auto& n : t.notes) md += "\n" + n + "\n";

  // Per class: one column per labelled set and foreground class.
  md += "\n## Per class\n\nMean Dice of each foreground class on the test cases, over the combinations of each "
        "labelled set.\n\n";
  std::vector<std::string> class_columns;
  for (const auto& tr : t.sets)
    for (const auto& c : t.classes) class_columns.push_back(tr + " " + c);
  md += header("initialisation", class_columns);
  for (const auto& row : t.plan->rows) {
    md += "| " + row.label + " |";
    for (const auto& tr : t.sets)
      for (size_t c = 0; c < t.classes.size(); ++c) {
        std::vector<double> v;
        for (const auto& s : t.runs)
          if (s.row == row.key && s.tr == tr) v.push_back(s.class_dice.at(c));
        const std::string cell = mean_sd(v);
        md += " " + cell.substr(0, cell.find(" (n=")) + " |";  // n is the main table's
      }
    md += "\n";
  }
  return md + "\n" + t.footer;
}

std::string results_csv(const ResultsTable& t, const std::string& dataset) {
  std::string csv = "dataset,init,labeled,comb,foreground_mean_dice";
  for (const auto& c : t.classes) csv += ",dice_" + c;
  csv += "\n";
  for (const auto& s : t.runs) {
    csv += fmt::format("{},{},{},{},{:.6f}", dataset, s.row, s.tr, s.comb, s.dice);
    for (double d : s.class_dice) csv += fmt::format(",{:.6f}", d);
    csv += "\n";
  }
  return csv;
}

std::string side_by_side_markdown(const std::vector<ResultsCsv>& csvs) {
  struct Column {
    std::string dataset, tr;
  };
  std::vector<Column> columns;
  std::vector<std::string> rows, datasets;
  std::map<std::string, std::vector<double>> values;  // "row|dataset|set" -> Dice of its runs
  for (const auto& csv : csvs) {
    std::stringstream in(csv.text);
    std::string line;
    const auto bad = [&](const std::string& what) {
      return std::runtime_error(fmt::format("{}: {}; give the results.csv (or results-PRESET.csv) that contraseg "
                                            "reproduce wrote",
                                            csv.path, what));
    };
    if (!std::getline(in, line) || line.rfind("dataset,init,labeled,comb,foreground_mean_dice", 0) != 0)
      throw bad("not a results table (its first line is not dataset,init,labeled,comb,foreground_mean_dice,...)");
    std::string dataset;
    for (int n = 2; std::getline(in, line); ++n) {
      std::vector<std::string> f;
      std::stringstream fields(line);
      for (std::string x; std::getline(fields, x, ',');) f.push_back(x);
      if (f.size() < 5) throw bad(fmt::format("line {} has {} fields, not at least 5", n, f.size()));
      if (dataset.empty()) {
        dataset = f[0];
        if (std::find(datasets.begin(), datasets.end(), dataset) != datasets.end())
          throw bad(fmt::format("dataset {} is in an earlier table too: give one table per dataset", dataset));
        datasets.push_back(dataset);
      }
      if (f[0] != dataset) throw bad(fmt::format("line {} is of dataset {}, the table's is {}", n, f[0], dataset));
      if (std::find(rows.begin(), rows.end(), f[1]) == rows.end()) rows.push_back(f[1]);
      const auto same = [&](const Column& c) { return c.dataset == dataset && c.tr == f[2]; };
      if (std::none_of(columns.begin(), columns.end(), same)) columns.push_back({dataset, f[2]});
      values[f[1] + "|" + dataset + "|" + f[2]].push_back(f[4] == "nan" ? std::nan("") : std::stod(f[4]));
    }
    if (dataset.empty()) throw bad("it holds no run");
  }
  // The rows' labels, from their keys (every local row's key names its l).
  const TablePlan plan = plan_rows(rows, 0);
  std::vector<std::string> names;
  for (const auto& c : columns) names.push_back(c.dataset + " " + c.tr);
  std::string md = fmt::format("# Results of {}\n\nMean foreground Dice on the test cases; mean ± standard deviation "
                               "over the combinations of each labelled set, with their number n.\n\n",
                               fmt::join(datasets, ", "));
  md += header("initialisation", names);
  for (const auto& row : plan.rows) {
    md += "| " + row.label + " |";
    for (const auto& c : columns) {
      const auto v = values.find(row.key + "|" + c.dataset + "|" + c.tr);
      md += " " + (v == values.end() ? std::string("–") : mean_sd(v->second)) + " |";
    }
    md += "\n";
  }
  return md;
}

RunScore read_run_score(const std::string& path, const std::vector<std::string>& classes) {
  std::ifstream f(path);
  RunScore s;
  const auto number = [](const nlohmann::json& v) { return v.is_null() ? std::nan("") : v.get<double>(); };
  try {
    const auto j = nlohmann::json::parse(f);
    s.dice = number(j.at("foreground_mean_dice"));
    for (const auto& c : classes) s.class_dice.push_back(number(j.at("mean_dice").at(c)));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(fmt::format("{}: not an evaluation summary ({}); delete the run's eval folder and run "
                                         "reproduce again",
                                         path, e.what()));
  }
  return s;
}

}  // namespace cs
