// The cells of the reproduce table (experiments/pipeline/reproduce.h): by default (reproduce.combs
// = all) every combination the split defines for each labelled set, which on the shipped splits is
// the released protocol (tr1 c1-c5, tr2 c1-c5, tr8 c1-c3: 13 runs per initialisation); a list takes
// those combinations only, saying which a set lacks; a set the split lacks is refused.
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "experiments/config.h"
#include "experiments/pipeline/reproduce.h"
#include "experiments/settings.h"

namespace cs {
namespace {

Splits shipped(const std::string& dataset) {
  return load_splits(std::string(CONTRASEG_SOURCE_DIR) + "/experiments/splits/" + dataset + ".json");
}

// Combinations per set, from the cells.
std::map<std::string, std::vector<std::string>> per_set(const std::vector<std::pair<std::string, std::string>>& cells) {
  std::map<std::string, std::vector<std::string>> m;
  for (const auto& [tr, comb] : cells) m[tr].push_back(comb);
  return m;
}

TEST(ReproduceCells, AllIsTheReleasedProtocolOnTheShippedSplits) {
  const std::vector<std::string> c5 = {"c1", "c2", "c3", "c4", "c5"}, c3 = {"c1", "c2", "c3"};
  for (const char* dataset : {"acdc", "prostate"}) {
    SCOPED_TRACE(dataset);
    std::vector<std::string> missing;
    const auto cells = reproduce_cells(shipped(dataset), {"tr1", "tr2", "tr8"}, {}, missing);
    EXPECT_EQ(cells.size(), 13u);
    const auto m = per_set(cells);
    EXPECT_EQ(m.at("tr1"), c5);
    EXPECT_EQ(m.at("tr2"), c5);
    EXPECT_EQ(m.at("tr8"), c3);
    EXPECT_TRUE(missing.empty());
    EXPECT_EQ(cells.front().first, "tr1");  // the table's order: set by set
    EXPECT_EQ(cells.back(), std::make_pair(std::string("tr8"), std::string("c3")));
  }
  // MM-WHS's split defines four combinations of tr2: all of them, and nothing is said missing.
  std::vector<std::string> missing;
  const auto m = per_set(reproduce_cells(shipped("mmwhs"), {"tr1", "tr2", "tr8"}, {}, missing));
  EXPECT_EQ(m.at("tr2"), (std::vector<std::string>{"c1", "c2", "c3", "c4"}));
  EXPECT_TRUE(missing.empty());
}

TEST(ReproduceCells, AListTakesThoseCombinationsAndSaysWhatASetLacks) {
  std::vector<std::string> missing;
  const auto cells = reproduce_cells(shipped("acdc"), {"tr1", "tr8"}, {"c2", "c5"}, missing);
  EXPECT_EQ(cells, (std::vector<std::pair<std::string, std::string>>{{"tr1", "c2"}, {"tr1", "c5"}, {"tr8", "c2"}}));
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_NE(missing[0].find("no combination c5 of tr8: its column averages 1 of 2 runs"), std::string::npos) << missing[0];
}

TEST(ReproduceCells, ASetTheSplitLacksIsRefusedByName) {
  std::vector<std::string> missing;
  for (const std::vector<std::string>& asked : {std::vector<std::string>{}, std::vector<std::string>{"c1"}}) {
    try {
      reproduce_cells(shipped("acdc"), {"tr1", "tr4"}, asked, missing);
      ADD_FAILURE() << "tr4 accepted";
    } catch (const std::invalid_argument& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("has no labelled set tr4"), std::string::npos) << m;
      EXPECT_NE(m.find("leave tr4 out of reproduce.labeled"), std::string::npos) << m;
    }
  }
}

TEST(ReproduceCells, AllIsTheDefaultAndStandsAlone) {
  Config c;
  EXPECT_EQ(c.str("reproduce.combs"), kAllCombinations);
  EXPECT_TRUE(resolve_settings(c).reproduce.combs.empty());
  c.apply_override("reproduce.combs=c1,c3");
  EXPECT_EQ(resolve_settings(c).reproduce.combs, (std::vector<std::string>{"c1", "c3"}));
  try {
    c.apply_override("reproduce.combs=all,c1");
    ADD_FAILURE() << "all,c1 accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("'all' stands alone"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cs
