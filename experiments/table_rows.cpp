#include "experiments/table_rows.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace cs {
namespace {

bool is_one_of(const std::string& name, const std::vector<std::string>& choices) {
  return std::find(choices.begin(), choices.end(), name) != choices.end();
}

std::string global_label(const std::string& m) { return m == "gr" ? "G^R" : m == "gd-" ? "G^D-" : "G^D"; }
std::string local_label(const std::string& m) { return m == "lr" ? "L^R" : "L^D"; }
std::string pretext_label(const std::string& m) { return m == "restoration" ? "context restoration" : m; }

std::invalid_argument bad_row(const std::string& row, const RowMethods& methods, const std::string& problem) {
  std::vector<std::string> presets;
  for (const auto& p : table_presets()) presets.push_back(p.name);
  return std::invalid_argument(fmt::format(
      "reproduce.rows: '{}' {}. A row is random, a global method ({}), a global and a local method joined by + "
      "(gd+lr; @l2 for l = 2 decoder blocks), or a pretext task ({}); or name one table: {}",
      row, problem, fmt::join(methods.global, "|"), fmt::join(methods.pretext, "|"),
      fmt::join(presets, "|")));
}

// Adds the pre-training `run` to the plan unless it is there; returns its name.
std::string add_run(TablePlan& plan, const PretrainRun& run) {
  const auto same = [&](const PretrainRun& r) { return r.name == run.name; };
  if (std::none_of(plan.pretrain.begin(), plan.pretrain.end(), same)) plan.pretrain.push_back(run);
  return run.name;
}

// One row of the grammar in table_rows.h, its pre-trainings added to the plan.
TableRow plan_row(TablePlan& plan, const std::string& row, const RowMethods& methods, int blocks, int max_blocks) {
  if (row == "random") return {"random", "random init", ""};
  if (is_one_of(row, methods.pretext))
    return {row, pretext_label(row), add_run(plan, {row, pretext_label(row), PretrainKind::Pretext, row, 0, ""})};
  if (is_one_of(row, methods.global))
    return {row, global_label(row), add_run(plan, {row, global_label(row), PretrainKind::Global, row, 0, ""})};
  // global+local[@lN]
  const size_t plus = row.find('+');
  if (plus == std::string::npos) throw bad_row(row, methods, "is neither a row nor a table");
  const std::string global = row.substr(0, plus);
  std::string local = row.substr(plus + 1);
  if (const size_t at = local.find("@l"); at != std::string::npos) {
    const std::string digits = local.substr(at + 2);
    local.resize(at);
    if (digits.empty() || digits.size() > 1 || !std::isdigit(static_cast<unsigned char>(digits[0])) ||
        digits[0] - '0' < 1 || digits[0] - '0' > max_blocks)
      throw bad_row(row, methods,
                    fmt::format("has l = '{}': the local loss pre-trains 1 to {} decoder blocks", digits, max_blocks));
    blocks = digits[0] - '0';
  }
  if (!is_one_of(global, methods.global))
    throw bad_row(row, methods, fmt::format("starts with '{}', no global method", global));
  if (!is_one_of(local, methods.local)) throw bad_row(row, methods, fmt::format("ends with '{}', no local method", local));
  const std::string name = fmt::format("{}+{}@l{}", global, local, blocks);
  const std::string label = fmt::format("{} + {} (l={})", global_label(global), local_label(local), blocks);
  const std::string after = add_run(plan, {global, global_label(global), PretrainKind::Global, global, 0, ""});
  add_run(plan, {name, label, PretrainKind::Local, local, blocks, after});
  return {name, label, name};
}

}  // namespace

const std::vector<TablePreset>& table_presets() {
  static const std::vector<TablePreset> presets = {
      {"paper-main", {"random", "gd+lr"}, "random initialisation against the method (G^D + L^R)"},
      {"paper-ablation", {"random", "gr", "gd-", "gd", "gr+lr", "gd+lr", "gd+ld", "gd+lr@l1", "gd+lr@l2"},
       "the global strategies alone, with the local losses, and the decoder depth l of L^R"},
      {"paper-comparison", {"random", "rotation", "restoration", "inpainting", "gr", "gd+lr"},
       "pretext-task pre-training and SimCLR-style G^R against the method"},
  };
  return presets;
}

std::vector<const PretrainRun*> TablePlan::chain(const TableRow& row) const {
  std::vector<const PretrainRun*> runs;
  for (std::string name = row.init; !name.empty();) {
    const auto it = std::find_if(pretrain.begin(), pretrain.end(), [&](const PretrainRun& r) { return r.name == name; });
    runs.insert(runs.begin(), &*it);
    name = it->after;
  }
  return runs;
}

TablePlan plan_table(const std::vector<std::string>& items, const RowMethods& methods, int blocks, int max_blocks) {
  TablePlan plan;
  std::vector<std::string> names = items;
  for (const auto& p : table_presets())
    if (items.size() == 1 && p.name == items[0]) {
      plan.table = p.name;
      names = p.rows;
    }
  if (names.empty()) throw bad_row("", methods, "names no row");
  for (const auto& name : names) {
    const TableRow row = plan_row(plan, name, methods, blocks, max_blocks);
    const auto same = std::find_if(plan.rows.begin(), plan.rows.end(), [&](const TableRow& r) { return r.key == row.key; });
    if (same == plan.rows.end()) {
      plan.rows.push_back(row);
    } else if (plan.table.empty()) {  // a preset's depth rows may meet its main row at the configured l
      throw bad_row(name, methods,
                    fmt::format("is the row {} again (local.blocks = {}): list each row once", same->key, blocks));
    }
  }
  return plan;
}

}  // namespace cs
