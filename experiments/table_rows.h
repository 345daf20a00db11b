#pragma once
// The rows of a results table (reproduce.rows, docs/method.md §9): each row is one initialisation
// of fine-tuning, named by the pre-training methods it chains:
//
//   random                    no pre-training
//   gr | gd- | gd             a global pre-training (stage 1) of the encoder
//   gd+lr, gr+ld, ...         a global pre-training, then a local one (stage 2) of decoder blocks
//                             1..l, l = local.blocks
//   gd+lr@l2                  the same with l = 2 decoder blocks
//   rotation | restoration | inpainting   a pretext-task pre-training (§8)
//
// or one named table, a preset: paper-main, paper-ablation, paper-comparison. A plan lists each
// pre-training once, so that rows sharing one (gd, gd+lr and gd+ld all start from gd) share its run.
#include <string>
#include <vector>

namespace cs {

// The value of reproduce.rows when none is given: the three initialisations of the method.
inline constexpr char kDefaultRows[] = "random,gd,gd+lr";

enum class PretrainKind { Global, Local, Pretext };

// One pre-training run of a table.
struct PretrainRun {
  std::string name;    // its folder under OUT/pretrain: "gd", "gd+lr@l3", "rotation"
  std::string label;   // for people: "G^D", "G^D + L^R (l=3)", "rotation"
  PretrainKind kind = PretrainKind::Global;
  std::string method;  // the value of its stage's method key: "gd", "lr", "rotation", ...
  int blocks = 0;      // Local: decoder blocks pre-trained (l)
  std::string after;   // the pre-training it starts from (a name of this plan; "" = none)
};

struct TableRow {
  std::string key;    // canonical name ("gd+lr@l3"): its folder under OUT/finetune
  std::string label;  // for people: "G^D + L^R (l=3)"
  std::string init;   // the pre-training it fine-tunes from (a name of the plan; "" = random)
};

struct TablePlan {
  std::string table;                  // the preset's name, or "" for a list of rows
  std::vector<TableRow> rows;         // in the order asked
  std::vector<PretrainRun> pretrain;  // each once, every run after the one it starts from
  // The pre-trainings a row chains, first to last (none for random).
  std::vector<const PretrainRun*> chain(const TableRow& row) const;
};

// The presets, with their rows and a line on what each table compares.
struct TablePreset {
  std::string name;
  std::vector<std::string> rows;
  std::string summary;
};
const std::vector<TablePreset>& table_presets();

// The method names a row may use: the choices of global.loss, local.loss and pretext.task.
struct RowMethods {
  std::vector<std::string> global, local, pretext;
};

// Plans the items of reproduce.rows (one preset's name, or rows); `blocks` is local.blocks (the l of
// a local row without @l). Throws std::invalid_argument naming the row and what is allowed: an
// unknown name, a row listed twice, an l outside [1, max_blocks].
TablePlan plan_table(const std::vector<std::string>& items, const RowMethods& methods, int blocks, int max_blocks);

}  // namespace cs
