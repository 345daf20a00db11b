// The rows of a results table (experiments/table_rows.h) and the table written from them
// (experiments/pipeline/results_table.h): the grammar and presets, each pre-training planned once
// and after the one it starts from, the refusals, the probe column, its marks and the per-class table.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "experiments/config.h"
#include "experiments/pipeline/results_table.h"
#include "experiments/table_rows.h"

namespace cs {
namespace {

const RowMethods kMethods = {{"gr", "gd-", "gd"}, {"lr", "ld"}, {"rotation", "restoration", "inpainting"}};

TablePlan plan(const std::vector<std::string>& items, int blocks = 3) { return plan_table(items, kMethods, blocks, 5); }

std::vector<std::string> names(const std::vector<PretrainRun>& runs) {
  std::vector<std::string> n;
  for (const auto& r : runs) n.push_back(r.name);
  return n;
}

std::string thrown(const std::vector<std::string>& items) {
  try {
    plan(items);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(TableRows, EachPretrainingOnceAfterTheOneItStartsFrom) {
  const TablePlan p = plan({"random", "gd+lr", "gd", "gd+ld", "gr+lr@l2", "rotation"});
  EXPECT_EQ(p.table, "");
  ASSERT_EQ(p.rows.size(), 6u);
  EXPECT_EQ(p.rows[1].key, "gd+lr@l3");  // l from local.blocks
  EXPECT_EQ(p.rows[1].label, "G^D + L^R (l=3)");
  EXPECT_EQ(p.rows[0].init, "");
  EXPECT_EQ(names(p.pretrain), (std::vector<std::string>{"gd", "gd+lr@l3", "gd+ld@l3", "gr", "gr+lr@l2", "rotation"}));
  for (size_t i = 0; i < p.pretrain.size(); ++i) {  // every run after the one it starts from
    if (p.pretrain[i].after.empty()) continue;
    bool before = false;
    for (size_t j = 0; j < i; ++j) before = before || p.pretrain[j].name == p.pretrain[i].after;
    EXPECT_TRUE(before) << p.pretrain[i].name;
  }
  EXPECT_EQ(p.pretrain[4].blocks, 2);
  EXPECT_EQ(p.pretrain[4].kind, PretrainKind::Local);
  EXPECT_EQ(p.pretrain[4].method, "lr");
  const auto chain = p.chain(p.rows[4]);
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0]->name, "gr");
  EXPECT_EQ(chain[1]->name, "gr+lr@l2");
  EXPECT_TRUE(p.chain(p.rows[0]).empty());
}

TEST(TableRows, PresetsNameTheirTablesAndShareRuns) {
  const TablePlan comparison = plan({"paper-comparison"});
  EXPECT_EQ(comparison.table, "paper-comparison");
  std::vector<std::string> keys;
  for (const auto& r : comparison.rows) keys.push_back(r.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"random", "rotation", "restoration", "inpainting", "gr", "gd+lr@l3"}));
  const TablePlan ablation = plan({"paper-ablation"});
  EXPECT_EQ(ablation.rows.size(), 9u);
  EXPECT_EQ(names(ablation.pretrain), (std::vector<std::string>{"gr", "gd-", "gd", "gr+lr@l3", "gd+lr@l3",
                                                                "gd+ld@l3", "gd+lr@l1", "gd+lr@l2"}));
  // With l = 2 configured, the preset's depth row l2 is its main row: listed once.
  EXPECT_EQ(plan({"paper-ablation"}, 2).rows.size(), 8u);
  for (const auto& preset : table_presets()) EXPECT_NO_THROW(plan({preset.name})) << preset.name;
}

TEST(TableRows, RefusalsNameTheRowAndWhatIsAllowed) {
  EXPECT_NE(thrown({"gd+lx"}).find("'gd+lx' ends with 'lx', no local method"), std::string::npos) << thrown({"gd+lx"});
  EXPECT_NE(thrown({"simclr"}).find("'simclr' is neither a row nor a table"), std::string::npos);
  EXPECT_NE(thrown({"simclr"}).find("paper-main|paper-ablation|paper-comparison"), std::string::npos);
  EXPECT_NE(thrown({"gd+lr@l9"}).find("1 to 5 decoder blocks"), std::string::npos);
  EXPECT_NE(thrown({"gd+lr@lx"}).find("l = 'x'"), std::string::npos);
  EXPECT_NE(thrown({"xx+lr"}).find("starts with 'xx'"), std::string::npos);
  EXPECT_NE(thrown({"gd", "gd+lr", "gd+lr@l3"}).find("is the row gd+lr@l3 again"), std::string::npos);
  EXPECT_NE(thrown({}).find("names no row"), std::string::npos);
}

// The config checks a row's values like the keys they set, and names reproduce.rows.
TEST(TableRows, TheConfigChecksTheRowsBeforeAnyWork) {
  Config c;
  c.set("reproduce.rows", "gd,gd+lr@l1", "test");
  c.set("image_size", "32", "test");
  try {
    c.validate();
    FAIL() << "a 2x2 feature map at l = 1 holds no 3x3 regions";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("reproduce.rows"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("at l = 1"), std::string::npos) << e.what();
  }
  c.set("reproduce.rows", "random,rotation", "test");
  c.set("pretext.task", "inpainting", "test");  // the row's task, not the key's
  c.set("pretext.batch", "6", "test");
  try {
    c.validate();
    FAIL() << "rotation needs a batch of whole turns";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("for the rotation row of reproduce.rows"), std::string::npos) << e.what();
  }
  c.set("pretext.batch", "8", "test");
  EXPECT_NO_THROW(c.validate());
  c.set("reproduce.rows", "random,nothing", "test");
  EXPECT_THROW(c.validate(), std::invalid_argument);
}

TEST(ResultsTable, ShowsProbesMarksRowsThatLearnedNothingAndEveryClass) {
  const TablePlan p = plan({"random", "gd", "gd+lr", "rotation"});
  ResultsTable t;
  t.title = "acdc results";
  t.sets = {"tr1", "tr2"};
  t.classes = {"RV", "Myo", "LV"};
  t.plan = &p;
  for (const auto& row : p.rows)
    for (const char* tr : {"tr1", "tr2"})
      for (const char* comb : {"c1", "c2"}) t.runs.push_back({row.key, tr, comb, 0.5, {0.4, 0.5, 0.6}});
  t.runs.back().class_dice[0] = std::nan("");  // left out of its mean
  t.probes.push_back({"gd", {{{"k-NN partition accuracy", 0.25, 0.25, true, 16, 600}}, "a premise of G^D fails"}});
  t.probes.push_back({"gd+lr@l3", {{{"region retrieval accuracy", 0.6, 0.1, true, 12, 300}}, ""}});
  t.probes.push_back({"rotation", {{{"rotation accuracy", 0.9, 0.25, true, 64, 300}}, ""}});
  const std::string md = results_markdown(t);
  // G^D learned nothing: both rows that start from it are marked, with one footnote.
  EXPECT_NE(md.find("| G^D (†1) | 0.500 ± 0.000 (n=2) | 0.500 ± 0.000 (n=2) | k-NN partition accuracy 0.250 "
                    "(chance 0.250) |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| G^D + L^R (l=3) (†1) |"), std::string::npos) << md;
  EXPECT_NE(md.find("k-NN partition accuracy 0.250 (chance 0.250); region retrieval accuracy 0.600 (chance 0.100) |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| rotation | 0.500"), std::string::npos) << md;
  EXPECT_NE(md.find("| random init | 0.500 ± 0.000 (n=2) | 0.500 ± 0.000 (n=2) | no pre-training |"), std::string::npos);
  EXPECT_EQ(md.find("†2"), std::string::npos) << md;
  EXPECT_NE(md.find("†1 A row marked so does not measure its method: the G^D pre-training (gd)"), std::string::npos)
      << md;
  EXPECT_NE(md.find("likely a premise of G^D fails"), std::string::npos) << md;
  EXPECT_NE(md.find("| initialisation | tr1 RV | tr1 Myo | tr1 LV | tr2 RV | tr2 Myo | tr2 LV |"), std::string::npos);
  EXPECT_NE(md.find("| rotation | 0.400 ± 0.000 | 0.500 ± 0.000 | 0.600 ± 0.000 | 0.400 ± 0.000 | 0.500"),
            std::string::npos)
      << md;
  const std::string csv = results_csv(t, "acdc");
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "dataset,init,labeled,comb,foreground_mean_dice,dice_RV,dice_Myo,dice_LV");
  EXPECT_NE(csv.find("\nacdc,gd+lr@l3,tr2,c1,0.500000,0.400000,0.500000,0.600000\n"), std::string::npos) << csv;
  size_t lines = 0;
  for (char ch : csv) lines += ch == '\n';
  EXPECT_EQ(lines, 1 + t.runs.size());  // one line per run
}

// Several datasets' results.csv side by side: a column per dataset and set, rows from their keys.
TEST(ResultsTable, SeveralDatasetsSideBySide) {
  const std::string head = "dataset,init,labeled,comb,foreground_mean_dice,dice_RV\n";
  const ResultsCsv acdc{"a/results.csv", head + "acdc,random,tr1,c1,0.5,0.4\nacdc,random,tr1,c2,0.7,0.4\n"
                                                "acdc,gd+lr@l3,tr1,c1,0.8,0.4\nacdc,gd+lr@l3,tr2,c1,0.9,0.4\n"};
  const ResultsCsv prostate{"p/results.csv", "dataset,init,labeled,comb,foreground_mean_dice,dice_PZ\n"
                                             "prostate,random,tr1,c1,0.3,0.4\nprostate,rotation,tr1,c1,0.2,0.4\n"};
  const std::string md = side_by_side_markdown({acdc, prostate});
  EXPECT_NE(md.find("| initialisation | acdc tr1 | acdc tr2 | prostate tr1 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| random init | 0.600 ± 0.141 (n=2) | – | 0.300 ± 0.000 (n=1) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| G^D + L^R (l=3) | 0.800 ± 0.000 (n=1) | 0.900 ± 0.000 (n=1) | – |"), std::string::npos) << md;
  EXPECT_NE(md.find("| rotation | – | – | 0.200 ± 0.000 (n=1) |"), std::string::npos) << md;
  const auto error = [](const std::vector<ResultsCsv>& csvs) {
    try {
      side_by_side_markdown(csvs);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error({acdc, {"b/results.csv", acdc.text}}).find("b/results.csv: dataset acdc is in an earlier table"),
            std::string::npos);
  EXPECT_NE(error({{"c/x.csv", "init,labeled\n"}}).find("c/x.csv: not a results table"), std::string::npos);
  EXPECT_NE(error({{"d/results.csv", head}}).find("d/results.csv: it holds no run"), std::string::npos);
  EXPECT_NE(error({{"e/results.csv", head + "acdc,random,tr1\n"}}).find("line 2 has 3 fields"), std::string::npos);
}

TEST(ProbeReading, AtBaselineAllowsTheNoiseOfItsTrials) {
  EXPECT_TRUE(at_baseline({"acc", 0.25, 0.25, true, 16, 0}));
  // chance 0.25 over 16 predictions: 2 sd = 0.217.
  EXPECT_TRUE(at_baseline({"acc", 0.45, 0.25, true, 16, 0}));
  EXPECT_FALSE(at_baseline({"acc", 0.5, 0.25, true, 16, 0}));
  EXPECT_FALSE(at_baseline({"acc", 0.35, 0.25, true, 1000, 0}));
  EXPECT_TRUE(at_baseline({"err", 0.1, 0.1, false, 0, 0}));
  EXPECT_FALSE(at_baseline({"err", 0.05, 0.1, false, 0, 0}));
}

// A retrieval among one candidate (chance 1) cannot tell: the verdict rests on the other readings.
TEST(ProbeReading, LearnedNothingOnlyWhenEveryReadingThatCanTellIsAtBaseline) {
  const ProbeReading one_candidate{"region", 1.0, 1.0, true, 12, 0}, at_chance{"class", 0.05, 0.04, true, 12, 0},
      learned{"class", 0.75, 0.04, true, 12, 0};
  EXPECT_FALSE(informative(one_candidate));
  EXPECT_TRUE(learned_nothing({one_candidate, at_chance}));
  EXPECT_FALSE(learned_nothing({one_candidate, learned}));
  EXPECT_FALSE(learned_nothing({one_candidate}));  // nothing can tell: no verdict
  EXPECT_FALSE(learned_nothing({at_chance, learned}));
  EXPECT_TRUE(learned_nothing({{"knn", 0.25, 0.25, true, 16, 0}}));
}

}  // namespace
}  // namespace cs
