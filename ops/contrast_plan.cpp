// ContrastSpec validation and merging, and the index arrays of a ContrastPlan (ops/contrast_plan.h).
#include "ops/contrast_plan.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>

#include "autograd/allocator.h"

namespace cs {

const char* negative_rule_name(NegativeRule r) {
  switch (r) {
    case NegativeRule::OtherGroups: return "other-groups";
    case NegativeRule::AllOthers: return "all-others";
    case NegativeRule::Explicit: return "explicit";
  }
  return "?";
}

namespace {
[[noreturn]] void bad_spec(const std::string& what) {
  throw std::invalid_argument("ContrastSpec: " + what);
}
}  // namespace

void ContrastSpec::validate() const {
  if (rows <= 0) bad_spec("rows must be positive, got " + std::to_string(rows));
  if (terms.empty()) bad_spec("no terms");
  auto in_range = [&](int i) { return i >= 0 && i < rows; };
  for (size_t t = 0; t < terms.size(); ++t) {
    const ContrastTerm& x = terms[t];
    if (!in_range(x.anchor) || !in_range(x.positive) || !in_range(x.key_row))
      bad_spec("term " + std::to_string(t) + " (anchor " + std::to_string(x.anchor) + ", positive " +
               std::to_string(x.positive) + ", key " + std::to_string(x.key_row) +
               ") indexes outside rows [0, " + std::to_string(rows) + ")");
    if (x.anchor == x.positive)
      bad_spec("term " + std::to_string(t) + " pairs row " + std::to_string(x.anchor) + " with itself");
    if (!std::isfinite(x.weight)) bad_spec("term " + std::to_string(t) + " has a non-finite weight");
  }
  if (rule == NegativeRule::OtherGroups && static_cast<int64_t>(group.size()) != rows)
    bad_spec("rule other-groups needs one group label per row: " + std::to_string(group.size()) +
             " labels for " + std::to_string(rows) + " rows");
  if (rule == NegativeRule::Explicit) {
    if (neg_offset.size() != terms.size() + 1)
      bad_spec("rule explicit needs terms+1 = " + std::to_string(terms.size() + 1) +
               " negative offsets, got " + std::to_string(neg_offset.size()));
    if (neg_offset.front() != 0 || neg_offset.back() != static_cast<int>(neg_index.size()))
      bad_spec("explicit negative offsets must start at 0 and end at neg_index.size()");
    for (size_t t = 0; t + 1 < neg_offset.size(); ++t)
      if (neg_offset[t + 1] < neg_offset[t]) bad_spec("explicit negative offsets decrease at term " + std::to_string(t));
    for (int j : neg_index)
      if (!in_range(j)) bad_spec("explicit negative index " + std::to_string(j) + " outside the rows");
  }
}

std::vector<int> ContrastSpec::negatives(size_t t) const {
  const ContrastTerm& x = terms.at(t);
  std::vector<int> out;
  switch (rule) {
    case NegativeRule::OtherGroups:
      for (int j = 0; j < rows; ++j)
        if (group[j] != group[x.key_row]) out.push_back(j);
      break;
    case NegativeRule::AllOthers:
      for (int j = 0; j < rows; ++j)
        if (j != x.anchor && j != x.positive) out.push_back(j);
      break;
    case NegativeRule::Explicit:
      out.assign(neg_index.begin() + neg_offset[t], neg_index.begin() + neg_offset[t + 1]);
      break;
  }
  return out;
}

double ContrastSpec::total_weight() const {
  double w = 0;
  for (const auto& t : terms) w += t.weight;
  return w;
}

ContrastSpec ContrastSpec::merged() const {
  ContrastSpec out = *this;
  out.terms.clear();
  out.neg_offset.clear();
  out.neg_index.clear();
  if (rule == NegativeRule::Explicit) {  // two explicit terms merge only with equal negative lists
    std::map<std::tuple<int, int, std::vector<int>>, size_t> seen;
    out.neg_offset.push_back(0);
    for (size_t t = 0; t < terms.size(); ++t) {
      auto key = std::make_tuple(terms[t].anchor, terms[t].positive, negatives(t));
      auto it = seen.find(key);
      if (it != seen.end()) {
        out.terms[it->second].weight += terms[t].weight;
        continue;
      }
      seen.emplace(key, out.terms.size());
      out.terms.push_back(terms[t]);
      const auto& n = std::get<2>(key);
      out.neg_index.insert(out.neg_index.end(), n.begin(), n.end());
      out.neg_offset.push_back(static_cast<int>(out.neg_index.size()));
    }
    return out;
  }
  std::map<std::tuple<int, int, int>, size_t> seen;
  for (const auto& t : terms) {
    // Only the negative SET matters: for other-groups that is the key row's group.
    const int key = rule == NegativeRule::OtherGroups ? group[t.key_row] : 0;
    auto k = std::make_tuple(t.anchor, t.positive, key);
    auto it = seen.find(k);
    if (it != seen.end()) {
      out.terms[it->second].weight += t.weight;
    } else {
      seen.emplace(k, out.terms.size());
      out.terms.push_back(t);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

ContrastPlan::ContrastPlan(ContrastSpec spec, Device device, std::string op_name)
    : spec_(std::move(spec)), device_(device), op_name_(std::move(op_name)) {
  spec_.validate();
  const int T = static_cast<int>(spec_.terms.size());
  const int rows = static_cast<int>(spec_.rows);
  std::vector<int> t_anchor(T), t_pos(T), t_unit(T);
  weights_.resize(T);
  for (int t = 0; t < T; ++t) {
    t_anchor[t] = spec_.terms[t].anchor;
    t_pos[t] = spec_.terms[t].positive;
    weights_[t] = spec_.terms[t].weight;
  }
  std::vector<int> u_anchor, u_key, u_term_off, u_terms, row_unit_off(rows + 1, 0);
  if (spec_.rule == NegativeRule::Explicit) {
    num_units_ = T;
    for (int t = 0; t < T; ++t) {
      t_unit[t] = t;
      max_negatives_ = std::max<int64_t>(max_negatives_, spec_.neg_offset[t + 1] - spec_.neg_offset[t]);
    }
  } else {
    // Units: distinct (anchor, excluded group), sorted by anchor (std::map order).
    std::map<std::pair<int, int>, int> unit_of;
    auto key_of = [&](const ContrastTerm& x) {
      return spec_.rule == NegativeRule::OtherGroups ? spec_.group[x.key_row] : -1;
    };
    for (const auto& x : spec_.terms) unit_of.emplace(std::make_pair(x.anchor, key_of(x)), 0);
    int u = 0;
    for (auto& kv : unit_of) {
      kv.second = u++;
      u_anchor.push_back(kv.first.first);
      u_key.push_back(kv.first.second);
      row_unit_off[kv.first.first + 1]++;
    }
    num_units_ = u;
    for (int r = 0; r < rows; ++r) {
      max_units_per_row_ = std::max(max_units_per_row_, row_unit_off[r + 1]);
      row_unit_off[r + 1] += row_unit_off[r];
    }
    std::vector<std::vector<int>> terms_of(u);
    for (int t = 0; t < T; ++t) {
      t_unit[t] = unit_of.at({spec_.terms[t].anchor, key_of(spec_.terms[t])});
      terms_of[t_unit[t]].push_back(t);
    }
    u_term_off.push_back(0);
    for (const auto& v : terms_of) {
      u_terms.insert(u_terms.end(), v.begin(), v.end());
      u_term_off.push_back(static_cast<int>(u_terms.size()));
    }
    if (spec_.rule == NegativeRule::OtherGroups) {
      std::map<int, int64_t> count;
      for (int g : spec_.group) count[g]++;
      for (int k : u_key) max_negatives_ = std::max<int64_t>(max_negatives_, rows - count[k]);
    } else {
      max_negatives_ = rows - 2;
    }
  }

  // Explicit: the inverse index (ContrastIndex::row_pair_off), built in term order.
  std::vector<int> row_pair_off, row_pair, row_other;
  if (spec_.rule == NegativeRule::Explicit) {
    std::vector<std::vector<std::pair<int, int>>> of_row(rows);  // (pair, other row)
    for (int t = 0; t < T; ++t) {
      const int a = t_anchor[t], p = t_pos[t];
      of_row[a].emplace_back(t, p);
      of_row[p].emplace_back(t, a);
      for (int e = spec_.neg_offset[t]; e < spec_.neg_offset[t + 1]; ++e) {
        const int j = spec_.neg_index[e];
        of_row[a].emplace_back(T + e, j);
        of_row[j].emplace_back(T + e, a);
      }
    }
    row_pair_off.push_back(0);
    for (const auto& list : of_row) {
      for (const auto& [pair, other] : list) {
        row_pair.push_back(pair);
        row_other.push_back(other);
      }
      row_pair_off.push_back(static_cast<int>(row_pair.size()));
    }
  }

  // Pack every int array into one buffer (the order is the one index() reads back).
  const std::vector<int>* arrays[kArrays] = {&t_anchor, &t_pos, &t_unit, &u_anchor, &u_key,
                                             &u_term_off, &u_terms, &row_unit_off,
                                             &spec_.group, &spec_.neg_offset, &spec_.neg_index,
                                             &row_pair_off, &row_pair, &row_other};
  for (int i = 0; i < kArrays; ++i) {
    off_[i] = ints_.size();
    present_[i] = !arrays[i]->empty();
    ints_.insert(ints_.end(), arrays[i]->begin(), arrays[i]->end());
  }
  if (device_ == Device::CUDA) {
    static_assert(sizeof(int) == sizeof(float), "index arrays are bit-copied into a float buffer");
    const size_t n = ints_.size() + weights_.size();
    device_buf_ = Tensor::empty({static_cast<int64_t>(n)}, Device::CUDA);
    float* base = device_buf_.data();
    copy_bytes(base, Device::CUDA, ints_.data(), Device::CPU, ints_.size() * sizeof(int));
    copy_bytes(base + ints_.size(), Device::CUDA, weights_.data(), Device::CPU, weights_.size() * sizeof(float));
  }
}

ContrastIndex ContrastPlan::index(const int* base, const float* w) const {
  auto at = [&](int i) -> const int* { return present_[i] ? base + off_[i] : nullptr; };
  ContrastIndex ix;
  ix.t_anchor = at(0);
  ix.t_pos = at(1);
  ix.t_unit = at(2);
  ix.u_anchor = at(3);
  ix.u_key = at(4);
  ix.u_term_off = at(5);
  ix.u_terms = at(6);
  ix.row_unit_off = at(7);
  ix.group = at(8);
  ix.neg_off = at(9);
  ix.neg_idx = at(10);
  ix.row_pair_off = at(11);
  ix.row_pair = at(12);
  ix.row_other = at(13);
  ix.t_weight = w;
  return ix;
}

ContrastIndex ContrastPlan::on(Device d) const {
  if (d != device_)
    throw std::invalid_argument(std::string("ContrastPlan: built for ") + device_name(device_) +
                                ", used with a tensor on " + device_name(d));
  if (d == Device::CPU) return host();
  const float* base = device_buf_.data();
  return index(reinterpret_cast<const int*>(base), base + ints_.size());
}

}  // namespace cs
