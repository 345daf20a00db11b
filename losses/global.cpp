// Global contrastive losses: the term lists over a batch layout (see losses/global.h).
#include "losses/global.h"

#include <stdexcept>
#include <string>

namespace cs {

GlobalLossKind parse_global_loss(const std::string& s) {
  if (s == "gr" || s == "GR" || s == "G^R" || s == "0") return GlobalLossKind::GR;
  if (s == "gd-" || s == "GD-" || s == "G^D-" || s == "1") return GlobalLossKind::GDMinus;
  if (s == "gd" || s == "GD" || s == "G^D" || s == "2") return GlobalLossKind::GD;
  throw std::invalid_argument("unknown global loss '" + s + "' (expected gr, gd- or gd)");
}
const char* global_loss_name(GlobalLossKind k) {
  switch (k) {
    case GlobalLossKind::GR: return "G^R";
    case GlobalLossKind::GDMinus: return "G^D-";
    case GlobalLossKind::GD: return "G^D";
  }
  return "?";
}

namespace {

bool same_slot(const Slot& a, const Slot& b) {
  return a.volume == b.volume && a.partition == b.partition && a.view == b.view && a.copy_of == b.copy_of &&
         a.aug == b.aug && a.group == b.group;
}

bool same_layout(const SlotLayout& a, const SlotLayout& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!same_slot(a.slots[i], b.slots[i])) return false;
  return true;
}

void add_pair_both_ways(ContrastSpec& s, int x, int y, int key, float w) {
  s.terms.push_back({x, y, key, w});
  s.terms.push_back({y, x, key, w});  // docs/method.md §2.1: reverse term, same negative index set
}

ContrastSpec gr_spec(const std::vector<Slot>& l) {
  // Standard NT-Xent: each view is an anchor once, its partner the positive; normaliser 2N.
  ContrastSpec s;
  s.rows = static_cast<int64_t>(l.size());
  s.rule = NegativeRule::AllOthers;
  const float w = 1.0f / static_cast<float>(l.size());
  for (size_t a = 0; a < l.size(); ++a) {
    int partner = -1;
    for (size_t p = 0; p < l.size(); ++p)
      if (p != a && l[p].volume == l[a].volume) {
        if (partner >= 0)
          throw std::invalid_argument("G^R: slice " + std::to_string(l[a].volume) + " has more than two views");
        partner = static_cast<int>(p);
      }
    if (partner < 0)
      throw std::invalid_argument("G^R: row " + std::to_string(a) + " has no second view of its slice");
    s.terms.push_back({static_cast<int>(a), partner, static_cast<int>(a), w});
  }
  return s;
}

ContrastSpec paper_partition_spec(GlobalLossKind kind, const std::vector<Slot>& l) {
  ContrastSpec s;
  s.rows = static_cast<int64_t>(l.size());
  s.rule = NegativeRule::OtherGroups;
  for (size_t i = 0; i < l.size(); ++i) {
    if (l[i].is_zero())
      throw std::invalid_argument("paper mode: row " + std::to_string(i) +
                                  " is a zero slot (paper batches hold only real images)");
    if (l[i].partition < 0) throw std::invalid_argument("paper mode: row " + std::to_string(i) + " has no partition");
    s.group.push_back(l[i].partition);
  }
  for (size_t a = 0; a < l.size(); ++a)
    for (size_t p = 0; p < l.size(); ++p) {
      if (p == a || l[p].partition != l[a].partition) continue;
      const bool other_view = l[p].volume == l[a].volume && l[p].view != l[a].view;
      const bool other_volume = l[p].volume != l[a].volume;
      if (other_view || (kind == GlobalLossKind::GD && other_volume))
        s.terms.push_back({static_cast<int>(a), static_cast<int>(p), static_cast<int>(a), 1.0f});
    }
  if (s.terms.empty()) throw std::invalid_argument("paper mode: the layout gives no positive pair");
  const float w = 1.0f / static_cast<float>(s.terms.size());  // mean over terms
  for (auto& t : s.terms) t.weight = w;
  return s;
}

// reference G^{D-} (docs/method.md §2.6): anchors 0..11, positives {i, i+12, i+24}, all 3 pairs both ways.
ContrastSpec reference_gd_minus_spec() {
  ContrastSpec s;
  s.rows = 36;
  s.rule = NegativeRule::OtherGroups;
  for (int i = 0; i < 36; ++i) s.group.push_back(i % 4);  // the hard-coded stride 4
  const float w = 1.0f / 36.0f;
  for (int i = 0; i < 12; ++i) {
    add_pair_both_ways(s, i, i + 12, i, w);
    add_pair_both_ways(s, i, i + 24, i, w);
    add_pair_both_ways(s, i + 12, i + 24, i, w);
  }
  return s;
}

// reference G^D (docs/method.md §2.7): anchors i with i mod 8 < 4; i2 = i+4, i3 = i+8, i4 = i+12 (mod 48);
// pairs (i,i2) (i,i3) (i3,i4) (i2,i4), both ways: 192 terms, 144 distinct directed pairs.
ContrastSpec reference_gd_spec() {
  constexpr int bs = 48;
  ContrastSpec s;
  s.rows = bs;
  s.rule = NegativeRule::OtherGroups;
  for (int i = 0; i < bs; ++i) s.group.push_back(i % 4);  // factor = n_parts when bt_size == 12
  const float w = 1.0f / 48.0f;
  for (int i = 0; i < bs; ++i) {
    if (i % 8 >= 4) continue;
    const int i2 = (i + 4) % bs, i3 = (i + 8) % bs, i4 = (i + 12) % bs;
    add_pair_both_ways(s, i, i2, i, w);
    add_pair_both_ways(s, i, i3, i, w);
    add_pair_both_ways(s, i3, i4, i, w);
    add_pair_both_ways(s, i2, i4, i, w);
  }
  return s;
}

}  // namespace

ContrastSpec global_contrast_spec(GlobalLossKind kind, Compat mode, const SlotLayout& layout) {
  if (layout.slots.empty()) throw std::invalid_argument("global_contrast_spec: empty batch layout");
  ContrastSpec s;
  if (kind == GlobalLossKind::GR) {
    s = gr_spec(layout.slots);
  } else if (mode == Compat::Paper) {
    s = paper_partition_spec(kind, layout.slots);
  } else {
    const bool gd = kind == GlobalLossKind::GD;
    const SlotLayout want = gd ? reference_gd_layout() : reference_gd_minus_layout();
    if (!same_layout(layout, want))
      throw std::invalid_argument(std::string("reference ") + global_loss_name(kind) + " needs its fixed " +
                                  std::to_string(want.size()) + "-slot layout (reference_gd" +
                                  (gd ? "" : "_minus") + "_layout()), got " + std::to_string(layout.size()) +
                                  " rows");
    s = gd ? reference_gd_spec() : reference_gd_minus_spec();
  }
  s.validate();
  return s;
}

GlobalContrastiveLoss::GlobalContrastiveLoss(GlobalLossKind kind, Compat mode, SlotLayout layout, float tau,
                                             Device device)
    : kind_(kind),
      mode_(mode),
      layout_(std::move(layout)),
      tau_(tau),
      plan_(global_contrast_spec(kind, mode, layout_), device,
            std::string("ntxent_") + (kind == GlobalLossKind::GR ? "gr" : kind == GlobalLossKind::GD ? "gd" : "gdminus") +
                "_" + compat_name(mode)) {}

Tensor GlobalContrastiveLoss::operator()(const Tensor& z) const { return ntxent_loss(z, plan_, tau_); }

}  // namespace cs
