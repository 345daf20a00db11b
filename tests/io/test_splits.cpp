// Split files against docs/method.md §6.4.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "support/io_test_util.h"
#include "io/datasets/splits.h"

namespace cs {
namespace {

std::string split_file(const std::string& d) {
  return std::string(CONTRASEG_SOURCE_DIR) + "/experiments/splits/" + d + ".json";
}

IdList L(std::initializer_list<const char*> ids) { return IdList(ids.begin(), ids.end()); }

bool disjoint(const IdList& a, const IdList& b) {
  for (const auto& x : a)
    if (std::find(b.begin(), b.end(), x) != b.end()) return false;
  return true;
}

TEST(Splits, Acdc) {
  const Splits s = load_splits(split_file("acdc"));
  EXPECT_EQ(s.dataset, "acdc");
  EXPECT_EQ(s.test(), L({"007", "008", "009", "010", "027", "028", "029", "030", "047", "048", "049", "050", "067",
                         "068", "069", "070", "087", "088", "089", "090"}));
  EXPECT_EQ(s.pretrain_pool().size(), 52u);
  EXPECT_TRUE(disjoint(s.pretrain_pool(), s.test()));
  EXPECT_EQ(s.labeled("tr1", "c3"), L({"095"}));
  EXPECT_EQ(s.labeled("tr2", "c3"), L({"042", "095"}));
  EXPECT_EQ(s.validation("tr2", "c3"), L({"031", "072"}));
  EXPECT_EQ(s.validation("tr2", "c2"), L({"011", "071"}));
  EXPECT_EQ(s.validation("tr1", "c2"), L({"031", "072"}));
  EXPECT_EQ(s.labeled("tr8", "c2"), L({"002", "022", "042", "062", "095", "063", "094", "043"}));
  EXPECT_EQ(s.labeled("8", "3"), s.labeled("tr8", "c3"));
  // 094 and 095 are labelled but not in the pre-training pool; 072 (validation) is
  const auto& pool = s.pretrain_pool();
  EXPECT_EQ(std::count(pool.begin(), pool.end(), "095"), 0);
  EXPECT_EQ(std::count(pool.begin(), pool.end(), "094"), 0);
  EXPECT_EQ(std::count(pool.begin(), pool.end(), "072"), 1);
  // every labelled set avoids the test set and its own validation pair
  for (const auto& [tr, combs] : s.combinations())
    for (const auto& c : combs) {
      EXPECT_TRUE(disjoint(s.labeled(tr, c), s.test())) << tr << c;
      EXPECT_TRUE(disjoint(s.labeled(tr, c), s.validation(tr, c))) << tr << c;
      EXPECT_EQ(s.validation(tr, c).size(), 2u);
    }
  EXPECT_EQ(s.combinations().at("tr8").size(), 3u);
  // benchmark: paper mode drops 011 (also a validation volume), reference mode keeps it
  EXPECT_EQ(s.benchmark().size(), 77u);
  EXPECT_TRUE(disjoint(s.benchmark(), s.benchmark_validation()));
  const Splits r = load_splits(split_file("acdc"), Compat::Reference);
  EXPECT_EQ(r.benchmark().size(), 78u);
  EXPECT_FALSE(disjoint(r.benchmark(), r.benchmark_validation()));
  EXPECT_EQ(r.labeled("trall", "c1"), r.benchmark());
  EXPECT_EQ(r.labeled("tr2", "c3"), s.labeled("tr2", "c3"));
  std::set<std::string> all(r.benchmark().begin(), r.benchmark().end());
  for (const auto& t : r.test()) all.insert(t);
  all.insert("031");
  all.insert("071");
  EXPECT_EQ(all.size(), 100u);  // trall = 001..100 minus the test set, 031 and 071
  // Reference mode keeps the released overlap, and says so; paper mode has none to say.
  EXPECT_TRUE(s.notes().empty());
  ASSERT_EQ(r.notes().size(), 1u);
  EXPECT_NE(r.notes()[0].find("011 is in both the training and the validation list of benchmark"), std::string::npos)
      << r.notes()[0];
}

// A split's own sense: no case twice in a list, no test case elsewhere, no labelled case in its
// own validation list; reference mode keeps only the overlaps of the lists it replaces.
TEST(Splits, OverlapsAndRepeatsAreRefused) {
  const nlohmann::json base = {
      {"dataset", "acdc"},
      {"test", {"007", "008"}},
      {"pretrain", {{"name", "pool"}, {"train", {"001", "002", "003"}}, {"val", {"003", "004"}}}},
      {"labeled", {{"tr1", {{"c1", {{"train", {"001"}}, {"val", {"004", "005"}}}}}}}},
      {"benchmark", {{"name", "trall"}, {"train", {"001", "002"}}, {"val", {"004", "005"}}}}};
  testing_io::TempDir tmp;
  auto message = [&](const nlohmann::json& j, const std::string& mode) {
    testing_io::write_text(tmp / "s.json", j.dump());
    try {
      load_splits(tmp / "s.json", parse_compat(mode));
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("(loaded)");
  };
  EXPECT_EQ(message(base, "paper"), "(loaded)");  // a pool may hold its validation volumes
  nlohmann::json j = base;
  j["test"] = {"007", "007"};
  EXPECT_NE(message(j, "paper").find("test lists case 007 twice"), std::string::npos);
  j = base;
  j["benchmark"]["train"] = {"001", "008"};
  EXPECT_NE(message(j, "paper").find("test case 008 is also in benchmark.train"), std::string::npos);
  EXPECT_NE(message(j, "reference").find("test case 008 is also in benchmark.train"), std::string::npos);
  j = base;
  j["labeled"]["tr1"]["c1"]["val"] = {"001", "005"};
  EXPECT_NE(message(j, "paper").find("001 is in both the training and the validation list of labeled.tr1.c1"),
            std::string::npos);
  EXPECT_NE(message(j, "reference").find("001 is in both"), std::string::npos);  // not a released list
  j = base;  // the released lists of the "reference" object keep their overlaps in reference mode
  j["reference"] = {{"benchmark", {{"name", "trall"}, {"train", {"001", "004", "008"}}, {"val", {"004", "005"}}}}};
  EXPECT_EQ(message(j, "paper"), "(loaded)");
  EXPECT_EQ(message(j, "reference"), "(loaded)");
}

TEST(Splits, Prostate) {
  const Splits s = load_splits(split_file("prostate"));
  EXPECT_EQ(s.test().size(), 15u);
  EXPECT_EQ(s.pretrain_pool().size(), 17u);
  EXPECT_EQ(s.labeled("tr2", "c2"), L({"021", "024"}));
  EXPECT_EQ(s.validation("tr2", "c2"), L({"017", "020"}));
  EXPECT_EQ(s.validation("tr1", "c5"), L({"025", "028"}));
  EXPECT_EQ(s.labeled("tr8", "c3"), L({"000", "001", "006", "007", "010", "017", "018", "024"}));
  // the released trall typo ("000" "001" glued) is not reproduced: both IDs are there
  const auto& b = s.benchmark();
  EXPECT_EQ(std::count(b.begin(), b.end(), "000"), 1);
  EXPECT_EQ(std::count(b.begin(), b.end(), "001"), 1);
  EXPECT_EQ(std::count(b.begin(), b.end(), "000001"), 0);
  EXPECT_TRUE(disjoint(s.pretrain_pool(), s.test()));
}

TEST(Splits, Mmwhs) {
  const Splits s = load_splits(split_file("mmwhs"));
  EXPECT_EQ(s.test().front(), "1011");
  EXPECT_EQ(s.test().size(), 10u);
  EXPECT_EQ(s.labeled("tr2", "c4"), L({"1010", "1007"}));
  EXPECT_EQ(s.validation("tr2", "c4"), L({"1004", "1008"}));
  EXPECT_EQ(s.labeled("tr8", "c2"), L({"1002", "1003", "1004", "1005", "1006", "1007", "1009", "1010"}));
  EXPECT_THROW(s.labeled("tr2", "c5"), std::invalid_argument);  // MMWHS has tr2 c1-c4 only
  EXPECT_EQ(s.combinations().at("tr2").size(), 4u);
}

TEST(Splits, ErrorsAreClear) {
  const Splits s = load_splits(split_file("acdc"));
  try {
    s.labeled("tr3", "c1");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("tr3 c1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tr2: c1 c2 c3 c4 c5"), std::string::npos) << e.what();
  }
  EXPECT_THROW(s.validation("tr8", "c4"), std::invalid_argument);
  EXPECT_THROW(load_splits(split_file("nosuch")), std::runtime_error);
  testing_io::TempDir tmp;
  testing_io::write_text(tmp / "bad.json", "{\"dataset\": \"x\", \"test\": [1, 2]}");
  EXPECT_THROW(load_splits(tmp / "bad.json"), std::runtime_error);
  testing_io::write_text(tmp / "bad2.json", "{not json");
  EXPECT_THROW(load_splits(tmp / "bad2.json"), std::runtime_error);
}

IdList numbered(int first, int last) {
  IdList ids;
  for (int k = last; k >= first; --k) {  // unsorted on purpose
    char b[8];
    std::snprintf(b, sizeof b, "%03d", k);
    ids.push_back(b);
  }
  return ids;
}

Splits derived(const IdList& ids, uint64_t seed, const std::string& dataset = "acdc") {
  testing_io::TempDir tmp;
  testing_io::write_text(tmp / "s.json", derived_splits_json(ids, dataset, seed));
  return load_splits(tmp / "s.json");
}

// The demo's 20 phantom patients: the lists its results table was made with.
TEST(DerivedSplits, SeedZeroDealsTheSortedIds) {
  const Splits s = derived(numbered(1, 20), 0);
  EXPECT_EQ(s.dataset, "acdc");
  EXPECT_EQ(s.test(), L({"004", "008", "012", "016", "020"}));
  const IdList pool = L({"001", "002", "003", "005", "006", "007", "009", "010", "011", "013", "014", "015", "017"});
  EXPECT_EQ(s.pretrain_pool(), pool);
  EXPECT_EQ(s.benchmark(), pool);
  EXPECT_EQ(s.pretrain_validation(), L({"019", "018"}));
  EXPECT_EQ(s.labeled("tr1", "c1"), L({"001"}));
  EXPECT_EQ(s.labeled("tr1", "c3"), L({"003"}));
  EXPECT_EQ(s.labeled("tr2", "c2"), L({"002", "003"}));
  EXPECT_EQ(s.labeled("tr2", "c3"), L({"003", "005"}));
  EXPECT_EQ(s.labeled("tr8", "c2"), L({"002", "003", "005", "006", "007", "009", "010", "011"}));
  EXPECT_EQ(s.labeled("tr8", "c5"), L({"006", "007", "009", "010", "011", "013", "014", "015"}));
  for (const auto& [tr, combs] : s.combinations()) {
    EXPECT_EQ(combs.size(), 5u) << tr;
    for (const auto& c : combs) {
      EXPECT_EQ(s.validation(tr, c), L({"019", "018"}));
      EXPECT_TRUE(disjoint(s.labeled(tr, c), s.test())) << tr << c;
      EXPECT_TRUE(disjoint(s.labeled(tr, c), s.validation(tr, c))) << tr << c;
    }
  }
  EXPECT_TRUE(disjoint(s.test(), s.pretrain_validation()));
  EXPECT_EQ(s.all_ids().size(), 20u);
}

TEST(DerivedSplits, LabelledSetsWhereTheDataAllows) {
  const Splits seven = derived(numbered(1, 7), 0);  // 2 test, 2 validation, 3 candidates
  EXPECT_EQ(seven.test(), L({"004", "007"}));
  EXPECT_EQ(seven.pretrain_pool(), L({"001", "002", "003"}));
  EXPECT_EQ(seven.combinations().size(), 2u);  // tr1, tr2; no tr8
  EXPECT_EQ(seven.combinations().at("tr1").size(), 3u);
  EXPECT_EQ(seven.labeled("tr2", "c3"), L({"003", "001"}));  // cyclic
  const Splits thirteen = derived(numbered(1, 13), 0);  // 8 candidates: a single tr8 set
  EXPECT_EQ(thirteen.combinations().at("tr8"), std::vector<std::string>({"c1"}));
  EXPECT_EQ(thirteen.labeled("tr8", "c1").size(), 8u);
  EXPECT_THROW(derived_splits_json(numbered(1, 6), "acdc"), std::invalid_argument);
  EXPECT_THROW(derived_splits_json(L({"001", "002", "003", "004", "005", "006", "001"}), "acdc"),
               std::invalid_argument);
}

TEST(DerivedSplits, OtherSeedsShuffleDeterministically) {
  const Splits a = derived(numbered(1, 20), 5), b = derived(numbered(1, 20), 5), c = derived(numbered(1, 20), 6);
  const Splits sorted = derived(numbered(1, 20), 0);
  EXPECT_EQ(a.test(), b.test());
  EXPECT_EQ(a.labeled("tr8", "c3"), b.labeled("tr8", "c3"));
  EXPECT_NE(a.test(), sorted.test());
  EXPECT_NE(a.test(), c.test());
  EXPECT_EQ(a.all_ids(), sorted.all_ids());
  EXPECT_EQ(derived(numbered(1, 20), 0, "prostate").dataset, "prostate");
}

TEST(Splits, FindsTheSplitFolder) {
  ::setenv("CONTRASEG_SPLITS_DIR", (std::string(CONTRASEG_SOURCE_DIR) + "/experiments/splits").c_str(), 1);
  const std::string p = find_splits_file("prostate");
  EXPECT_EQ(load_splits(p).dataset, "prostate");
  EXPECT_THROW(find_splits_file("brats"), std::runtime_error);
  ::unsetenv("CONTRASEG_SPLITS_DIR");
}

}  // namespace
}  // namespace cs
