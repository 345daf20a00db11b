#pragma once
// Local contrastive losses of stage 2 (docs/method.md §3): L^R (proposed) and L^D.
//
// Regions. On the g2 feature map f [N, W, W, C] (W = side of decoder block l), with m = W - 4 for
// 3x3 regions (m = W - 1 for 1x1) and the grid offsets a = m/4, b = m/2, c = 3m/4, d = m (integer
// division), 13 positive regions P0..P12 sit at fixed top-left corners (row first) and each has 5
// hard-coded negative positions (the tables of §3.4, copied in local.cpp). A 3x3 region is
// flattened to 9C values in (dr, ds, c) row-major order, element (dr*3 + ds)*C + c, and sent
// through the shared dense layer w [128, 9C] (no bias); a 1x1 region is the C-vector itself.
// Negative table: the 3x3 table in paper mode for both region sizes and in reference mode for
// 3x3 regions; reference mode with 1x1 regions uses the released code's own 1x1 table.
//
// Embedding rows: every image n contributes one row per distinct position q (the 13 positives,
// then the negative-only positions of the table: (a,b), (b,a), (b,c), (c,b) for the 3x3 table,
// none for the 1x1 table), row n * P + q.
//
// L^R (batch of 2B images, views (2k, 2k+1) of slice k): for each pair and region r, the term
//   anchor f^_r, positive f~_r, negatives {f^_n, f~_n : n in neg(r)} (10),
// and the symmetric term anchor f~_r, positive f^_r, same 10 negatives. Sum / 13 / (2B).
// L^D (batch of 2n images, n = 4V slices of V volumes x 4 partitions, first all view 1 then all
// view 2): anchor = view 1 of slice i, region r; positives: view 2 of slice i, and view 1 of
// slices (i + 4j) mod n, j = 1..V-1; each positive has its own negatives: the first 4 listed
// neighbours in the anchor's map and in that positive's map (8). No reverse terms. Sum / 13 / (2n).
#include <string>
#include <vector>

#include "autograd/compat.h"
#include "losses/slot_layout.h"  // the batch a local loss trains on: slot_layout(kind, n)
#include "ops/similarity.h"

namespace cs {

enum class LocalLossKind { LR, LD };
LocalLossKind parse_local_loss(const std::string& s);  // "lr" | "ld" (also "0", "1")
const char* local_loss_name(LocalLossKind k);          // "L^R", "L^D"

constexpr int kLocalPositives = 13;
constexpr int kLocalNegativesListed = 5;

struct RegionGrid {
  int side = 0;  // W
  int k = 3;     // region side: 3 or 1
  int m = 0, a = 0, b = 0, c = 0, d = 0;
};
// Throws if the map is too small (m < 0) or k is not 1 or 3.
RegionGrid region_grid(int side, int region_size);

// The two negative tables of docs/method.md §3.4. They differ in 9 of their 13 rows.
enum class NegativeTable {
  Regions3x3,    // both modes with 3x3 regions; paper mode with 1x1 regions
  Reference1x1,  // reference mode with 1x1 regions: the released code's own 1x1 table
};
NegativeTable negative_table_for(Compat mode, int region_size);
const char* negative_table_name(NegativeTable t);  // "3x3", "reference 1x1"

// The top-left corners of P0..P12, and for each the 5 listed negative corners of table t.
std::vector<RegionPos> positive_regions(const RegionGrid& g);
std::vector<std::vector<RegionPos>> negative_regions(const RegionGrid& g,
                                                     NegativeTable t = NegativeTable::Regions3x3);

// The distinct corners a batch needs and, per positive region, the index of its own corner and
// of its listed negatives in that list.
struct LocalRegionTable {
  RegionGrid grid;
  NegativeTable table = NegativeTable::Regions3x3;
  std::vector<RegionPos> positions;            // P distinct corners, the 13 positives first
  std::vector<int> positive;                   // [13]
  std::vector<std::vector<int>> negatives;     // [13][5]
};
LocalRegionTable local_region_table(const RegionGrid& g, NegativeTable t = NegativeTable::Regions3x3);

// The terms over rows n * P + q (P = table.positions.size()). `images`: 2B for L^R, 2n for L^D
// (n a multiple of 4). `negatives_used`: how many of the 5 listed neighbours enter (5 for L^R,
// 4 for L^D by the released code's override); -1 picks that default.
ContrastSpec local_contrast_spec(LocalLossKind kind, const LocalRegionTable& table, int images,
                                 int negatives_used = -1);

struct LocalLossOptions {
  LocalLossKind kind = LocalLossKind::LR;
  int region_size = 3;     // 3: flattened 3x3 regions through the dense layer; 1: C-vectors
  float tau = 0.1f;
  int negatives_used = -1;  // see local_contrast_spec
  Compat mode = Compat::Paper;  // with region_size, picks the negative table
};

// The loss object: fixes the batch size and map side, builds the plan once.
class LocalContrastiveLoss {
 public:
  LocalContrastiveLoss(const LocalLossOptions& opt, int images, int side, Device device = Device::CPU);

  // g2 [images, W, W, C], dense_w [Dout, 9C] for 3x3 regions (undefined for 1x1) -> [1].
  Tensor operator()(const Tensor& g2, const Tensor& dense_w = Tensor()) const;
  // The region embeddings before the loss: [images * P, Dout] (3x3) or [images * P, C] (1x1).
  Tensor embeddings(const Tensor& g2, const Tensor& dense_w = Tensor()) const;

  const LocalLossOptions& options() const { return opt_; }
  const LocalRegionTable& table() const { return table_; }
  const ContrastPlan& plan() const { return plan_; }
  const ContrastSpec& spec() const { return plan_.spec(); }
  int images() const { return images_; }

 private:
  LocalLossOptions opt_;
  int images_;
  LocalRegionTable table_;
  ContrastPlan plan_;
};

}  // namespace cs
