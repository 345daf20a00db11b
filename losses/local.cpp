// Local contrastive losses: the region tables of docs/method.md §3.3-3.4 and the L^R / L^D term lists.
#include "losses/local.h"

#include <stdexcept>
#include <string>

#include "ops/ops.h"

namespace cs {

LocalLossKind parse_local_loss(const std::string& s) {
  if (s == "lr" || s == "LR" || s == "L^R" || s == "0") return LocalLossKind::LR;
  if (s == "ld" || s == "LD" || s == "L^D" || s == "1") return LocalLossKind::LD;
  throw std::invalid_argument("unknown local loss '" + s + "' (expected lr or ld)");
}
const char* local_loss_name(LocalLossKind k) { return k == LocalLossKind::LR ? "L^R" : "L^D"; }

RegionGrid region_grid(int side, int region_size) {
  if (region_size != 1 && region_size != 3)
    throw std::invalid_argument("region_grid: region size must be 1 or 3, got " + std::to_string(region_size));
  RegionGrid g;
  g.side = side;
  g.k = region_size;
  g.m = region_size == 3 ? side - 4 : side - 1;
  if (g.m < 0)
    throw std::invalid_argument("region_grid: a " + std::to_string(side) + "x" + std::to_string(side) +
                                " feature map is too small for " + std::to_string(region_size) + "x" +
                                std::to_string(region_size) + " regions");
  g.a = g.m / 4;
  g.b = g.m / 2;
  g.c = 3 * g.m / 4;
  g.d = g.m;
  return g;
}

namespace {
// docs/method.md §3.3-3.4, written with the symbols of the tables: '0', 'a', 'b', 'c', 'd'.
const char* const kPositive[kLocalPositives] = {"00", "0b", "0d", "b0", "bb", "bd", "d0",
                                                "db", "dd", "aa", "ac", "ca", "cc"};
// The 3x3 table.
const char* const kNegative[kLocalPositives][kLocalNegativesListed] = {
    {"0b", "aa", "ab", "b0", "ba"},  // P0
    {"00", "0d", "aa", "ac", "bb"},  // P1
    {"0b", "ab", "ac", "bc", "bd"},  // P2
    {"00", "aa", "bb", "d0", "ca"},  // P3
    {"aa", "ac", "ca", "cc", "b0"},  // P4
    {"0d", "bb", "dd", "ac", "cc"},  // P5
    {"b0", "ba", "db", "ca", "cb"},  // P6
    {"bb", "d0", "dd", "ca", "cc"},  // P7
    {"bc", "bd", "db", "cc", "cb"},  // P8
    {"00", "0b", "b0", "bb", "ac"},  // P9
    {"0b", "0d", "aa", "bb", "bd"},  // P10
    {"b0", "bb", "d0", "db", "cc"},  // P11
    {"bb", "bd", "db", "dd", "ca"},  // P12
};
// The released code's 1x1 table (reference mode, 1x1 regions); every entry is a positive corner.
const char* const kNegative1x1Reference[kLocalPositives][kLocalNegativesListed] = {
    {"0b", "b0", "bb", "aa", "ac"},  // P0
    {"00", "0d", "bb", "aa", "ac"},  // P1
    {"0b", "bb", "bd", "ca", "ac"},  // P2
    {"00", "bb", "d0", "aa", "ca"},  // P3
    {"aa", "ac", "ca", "cc", "b0"},  // P4
    {"0d", "bb", "dd", "ac", "cc"},  // P5
    {"b0", "bb", "db", "ca", "aa"},  // P6
    {"bb", "d0", "dd", "ca", "cc"},  // P7
    {"bb", "bd", "db", "cc", "ca"},  // P8
    {"00", "0b", "b0", "bb", "ac"},  // P9
    {"0b", "0d", "bb", "bd", "cc"},  // P10
    {"b0", "bb", "d0", "0b", "aa"},  // P11
    {"bb", "bd", "db", "dd", "ac"},  // P12
};

int offset(const RegionGrid& g, char sym) {
  switch (sym) {
    case '0': return 0;
    case 'a': return g.a;
    case 'b': return g.b;
    case 'c': return g.c;
    case 'd': return g.d;
  }
  throw std::logic_error("local region table: bad symbol");
}
RegionPos at(const RegionGrid& g, const char* rs) { return {offset(g, rs[0]), offset(g, rs[1])}; }
}  // namespace

std::vector<RegionPos> positive_regions(const RegionGrid& g) {
  std::vector<RegionPos> out;
  for (const char* p : kPositive) out.push_back(at(g, p));
  return out;
}

NegativeTable negative_table_for(Compat mode, int region_size) {
  return mode == Compat::Reference && region_size == 1 ? NegativeTable::Reference1x1 : NegativeTable::Regions3x3;
}

const char* negative_table_name(NegativeTable t) {
  return t == NegativeTable::Reference1x1 ? "reference 1x1" : "3x3";
}

std::vector<std::vector<RegionPos>> negative_regions(const RegionGrid& g, NegativeTable table) {
  const auto& rows = table == NegativeTable::Reference1x1 ? kNegative1x1Reference : kNegative;
  std::vector<std::vector<RegionPos>> out(kLocalPositives);
  for (int r = 0; r < kLocalPositives; ++r)
    for (const char* n : rows[r]) out[r].push_back(at(g, n));
  return out;
}

LocalRegionTable local_region_table(const RegionGrid& g, NegativeTable table) {
  LocalRegionTable t;
  t.grid = g;
  t.table = table;
  // Distinct corners (small maps can make two symbols coincide, e.g. a == b).
  auto index_of = [&](RegionPos p) {
    for (size_t i = 0; i < t.positions.size(); ++i)
      if (t.positions[i].r == p.r && t.positions[i].s == p.s) return static_cast<int>(i);
    t.positions.push_back(p);
    return static_cast<int>(t.positions.size() - 1);
  };
  for (const RegionPos& p : positive_regions(g)) t.positive.push_back(index_of(p));
  for (const auto& negs : negative_regions(g, table)) {
    t.negatives.emplace_back();
    for (const RegionPos& p : negs) t.negatives.back().push_back(index_of(p));
  }
  return t;
}

ContrastSpec local_contrast_spec(LocalLossKind kind, const LocalRegionTable& table, int images,
                                 int negatives_used) {
  if (negatives_used < 0) negatives_used = kind == LocalLossKind::LR ? 5 : 4;
  if (negatives_used < 1 || negatives_used > kLocalNegativesListed)
    throw std::invalid_argument("local loss: negatives per region must be 1..5, got " + std::to_string(negatives_used));
  const int P = static_cast<int>(table.positions.size());
  ContrastSpec s;
  s.rule = NegativeRule::Explicit;
  s.rows = int64_t(images) * P;
  s.neg_offset.push_back(0);
  auto row = [P](int image, int q) { return image * P + q; };
  auto add = [&](int img_a, int img_p, int r, float w) {
    s.terms.push_back({row(img_a, table.positive[r]), row(img_p, table.positive[r]), row(img_a, table.positive[r]), w});
    for (int img : {img_a, img_p})
      for (int i = 0; i < negatives_used; ++i) s.neg_index.push_back(row(img, table.negatives[r][i]));
    s.neg_offset.push_back(static_cast<int>(s.neg_index.size()));
  };
  if (kind == LocalLossKind::LR) {
    if (images < 2 || images % 2)
      throw std::invalid_argument("L^R: the batch must hold pairs of views (an even number >= 2 of images), got " +
                                  std::to_string(images));
    const float w = 1.0f / kLocalPositives / static_cast<float>(images);
    for (int k = 0; k < images / 2; ++k)
      for (int r = 0; r < kLocalPositives; ++r) {
        add(2 * k, 2 * k + 1, r, w);
        add(2 * k + 1, 2 * k, r, w);  // symmetric term: same 10 negatives (f^ and f~ lists)
      }
  } else {
    if (images < 8 || images % 8)
      throw std::invalid_argument("L^D: the batch must be 2 views x (volumes x 4 partitions) images, got " +
                                  std::to_string(images));
    const int n = images / 2, volumes = n / 4;
    const float w = 1.0f / kLocalPositives / static_cast<float>(images);
    for (int i = 0; i < n; ++i)
      for (int r = 0; r < kLocalPositives; ++r) {
        add(i, n + i, r, w);  // view 2 of the same slice
        for (int j = 1; j < volumes; ++j) add(i, (i + 4 * j) % n, r, w);  // same partition, other volume
      }
  }
  s.validate();
  return s;
}

LocalContrastiveLoss::LocalContrastiveLoss(const LocalLossOptions& opt, int images, int side, Device device)
    : opt_(opt),
      images_(images),
      table_(local_region_table(region_grid(side, opt.region_size), negative_table_for(opt.mode, opt.region_size))),
      plan_(local_contrast_spec(opt.kind, table_, images, opt.negatives_used), device,
            std::string("ntxent_") + (opt.kind == LocalLossKind::LR ? "lr" : "ld") +
                (opt.region_size == 3 ? "3x3" : "1x1") + "_" + compat_name(opt.mode)) {}

Tensor LocalContrastiveLoss::embeddings(const Tensor& g2, const Tensor& dense_w) const {
  check_ndim(g2, 4, "local contrastive loss", "g2 [N,W,W,C]");
  if (g2.dim(0) != images_ || g2.dim(1) != table_.grid.side || g2.dim(2) != table_.grid.side)
    throw std::invalid_argument("local contrastive loss: built for " + std::to_string(images_) + " maps of " +
                                std::to_string(table_.grid.side) + "x" + std::to_string(table_.grid.side) +
                                ", got g2 " + shape_str(g2.shape()));
  const int k = opt_.region_size;
  Tensor regions = extract_regions(g2, table_.positions, k);  // [N*P, k*k*C]
  if (k == 1) {
    if (dense_w.defined())
      throw std::invalid_argument("local contrastive loss: 1x1 regions use the C-vectors as they are (no dense layer)");
    return regions;
  }
  if (!dense_w.defined())
    throw std::invalid_argument("local contrastive loss: 3x3 regions need the dense weight [Dout, 9C]");
  if (dense_w.ndim() != 2 || dense_w.dim(1) != regions.dim(1))
    throw std::invalid_argument("local contrastive loss: dense weight " + shape_str(dense_w.shape()) +
                                " does not match 9C = " + std::to_string(regions.dim(1)));
  return linear(regions, dense_w);  // [N*P, Dout]
}

Tensor LocalContrastiveLoss::operator()(const Tensor& g2, const Tensor& dense_w) const {
  return ntxent_loss(embeddings(g2, dense_w), plan_, opt_.tau);
}

}  // namespace cs
