// Split files against SPEC.md 5.3.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <string>

#include "io/io_test_util.h"
#include "io/splits.h"

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
  const Splits r = load_splits(split_file("acdc"), "reference");
  EXPECT_EQ(r.benchmark().size(), 78u);
  EXPECT_FALSE(disjoint(r.benchmark(), r.benchmark_validation()));
  EXPECT_EQ(r.labeled("trall", "c1"), r.benchmark());
  EXPECT_EQ(r.labeled("tr2", "c3"), s.labeled("tr2", "c3"));
  std::set<std::string> all(r.benchmark().begin(), r.benchmark().end());
  for (const auto& t : r.test()) all.insert(t);
  all.insert("031");
  all.insert("071");
  EXPECT_EQ(all.size(), 100u);  // trall = 001..100 minus the test set, 031 and 071
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
  EXPECT_THROW(load_splits(split_file("acdc"), "exact"), std::invalid_argument);
  EXPECT_THROW(load_splits(split_file("nosuch")), std::runtime_error);
  testing_io::TempDir tmp;
  testing_io::write_text(tmp / "bad.json", "{\"dataset\": \"x\", \"test\": [1, 2]}");
  EXPECT_THROW(load_splits(tmp / "bad.json"), std::runtime_error);
  testing_io::write_text(tmp / "bad2.json", "{not json");
  EXPECT_THROW(load_splits(tmp / "bad2.json"), std::runtime_error);
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
