// `contraseg draw [--out DIR] [--overwrite]`: pictures of the contrastive losses' pair rules, drawn from the very
// term lists the losses use (losses/global.h, losses/local.h):
//   gd_paper.png, gd_reference.png, gdminus_paper.png, gdminus_reference.png: the batch as a grid
//     (one row per volume block, columns = partition x view) with one anchor highlighted, its
//     positives green (the number = how many terms pair them), its negatives red, the rest grey,
//     zero slots dark;
//   local_regions.png: the 13 positive regions on a 48x48 feature map (8x);
//   local_negatives.png: one panel per positive region with its 5 negatives (the 5th, which
//     L^D drops, in orange).
// Drawn on io/drawing/canvas.h.
#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "experiments/cli/cli.h"
#include "io/drawing/canvas.h"
#include "losses/global.h"
#include "losses/local.h"

namespace cs {
namespace {

const Rgb kWhite{255, 255, 255}, kBlack{0, 0, 0}, kGrey{200, 200, 200}, kDark{60, 60, 60}, kGreen{46, 160, 67},
    kRed{214, 57, 57}, kBlue{40, 90, 200}, kOrange{240, 150, 30}, kLight{235, 235, 235}, kMid{150, 150, 150};

// A frame of thickness t inside the box (x, y, w, h).
void frame(Canvas& c, int x, int y, int w, int h, Rgb col, int t = 1) {
  for (int i = 0; i < t; ++i) c.rect(x + i, y + i, w - 2 * i, h - 2 * i, col);
}

// Which rows are positives (with multiplicity) and negatives of `anchor` in a spec.
struct AnchorView {
  std::map<int, int> positives;
  std::set<int> negatives;
};
AnchorView view_of(const ContrastSpec& s, int anchor) {
  AnchorView v;
  for (size_t t = 0; t < s.terms.size(); ++t) {
    if (s.terms[t].anchor != anchor) continue;
    v.positives[s.terms[t].positive]++;
    for (int j : s.negatives(t)) v.negatives.insert(j);
  }
  return v;
}

void legend(Canvas& c, int x, int y) {
  const std::pair<Rgb, const char*> items[] = {
      {kBlue, "anchor"}, {kGreen, "positive (terms)"}, {kRed, "negative"}, {kGrey, "neither"}, {kDark, "zero slot"}};
  for (const auto& [col, label] : items) {
    c.fill_rect(x, y, 14, 14, col);
    c.text(x + 20, y + 2, label, kBlack);
    y += 20;
  }
}

// The batch as a grid: row = layout row / (2 * partitions) (a volume's originals and views),
// column = partition * 2 + view (views 0/1), or the slot order for reference G^{D-}.
void draw_global(GlobalLossKind kind, Compat compat, const std::string& path) {
  const SlotLayout layout = slot_layout(kind, compat, 6, 4);
  const ContrastSpec spec = global_contrast_spec(kind, compat, layout);
  const std::vector<Slot>& slots = layout.slots;
  const int anchor = 0;
  const AnchorView v = view_of(spec, anchor);
  int views = 0, rows_n = 0;
  for (const Slot& s : slots) views = std::max(views, s.view + 1);
  const int cols = 4 * views;
  // Row of a slot: one per volume (zero slots: one per block of 8), in order of appearance.
  std::vector<int> row_of(layout.size()), col_of(layout.size());
  std::map<int, int> row_ids;
  for (size_t i = 0; i < layout.size(); ++i) {
    const int key = slots[i].is_zero() ? -1 - static_cast<int>(i) / 8 : slots[i].volume;
    if (!row_ids.count(key)) row_ids.emplace(key, rows_n++);
    row_of[i] = row_ids.at(key);
    col_of[i] = slots[i].partition * views + slots[i].view;
  }
  const int cell = 40, gap = 6, left = 120, top = 70;
  Canvas c(left + cols * (cell + gap) + 240, top + rows_n * (cell + gap) + 60);
  const std::string title = std::string(global_loss_name(kind)) + "  " + compat_name(compat) + " mode:  " +
                            std::to_string(layout.size()) + " rows, " + std::to_string(spec.terms.size()) + " terms";
  c.text(10, 10, title, kBlack, 2);
  for (int p = 0; p < 4; ++p)
    for (int w = 0; w < views; ++w) {
      const int x = left + (p * views + w) * (cell + gap);
      c.text(x + 4, top - 34, "P" + std::to_string(p), kBlack);
      c.text(x + 4, top - 18, compat == Compat::Reference && kind != GlobalLossKind::GR
                                  ? (w == 0 ? "ORIG" : "AUG" + (views > 2 ? std::to_string(w) : std::string()))
                                  : "V" + std::to_string(w + 1),
             kMid);
    }
  for (size_t i = 0; i < layout.size(); ++i) {
    const int x = left + col_of[i] * (cell + gap), y = top + row_of[i] * (cell + gap);
    const int r = static_cast<int>(i);
    Rgb col = slots[i].is_zero() ? kDark : kGrey;
    if (v.negatives.count(r)) col = kRed;
    if (v.positives.count(r)) col = kGreen;
    if (r == anchor) col = kBlue;
    c.fill_rect(x, y, cell, cell, col);
    if (slots[i].is_zero() && col.r != kDark.r) frame(c, x, y, cell, cell, kDark, 3);  // a zero slot that is used
    c.text(x + 3, y + 3, std::to_string(r), kWhite);
    if (v.positives.count(r)) c.text(x + cell - 12, y + cell - 14, std::to_string(v.positives.at(r)), kWhite);
  }
  for (size_t i = 0; i < layout.size(); ++i) {
    if (col_of[i] != 0) continue;
    const std::string label = slots[i].is_zero() ? "ZERO" : "VOL " + std::to_string(slots[i].volume);
    c.text(10, top + row_of[i] * (cell + gap) + cell / 2 - 5, label, kBlack);
  }
  legend(c, left + cols * (cell + gap) + 20, top);
  c.write_png(path);
}

void draw_region(Canvas& c, int ox, int oy, int scale, const RegionPos& p, int k, Rgb col, bool filled) {
  if (filled)
    c.fill_rect(ox + p.s * scale, oy + p.r * scale, k * scale, k * scale, col);
  else
    frame(c, ox + p.s * scale, oy + p.r * scale, k * scale, k * scale, col, 2);
}

void draw_local_overview(const std::string& path) {
  const RegionGrid g = region_grid(48, 3);
  const auto pos = positive_regions(g);
  const int scale = 8, pad = 60;
  Canvas c(48 * scale + 2 * pad, 48 * scale + 2 * pad);
  c.text(10, 10, "13 POSITIVE REGIONS, 3X3, ON A 48X48 MAP (M=44: 0,11,22,33,44)", kBlack);
  c.fill_rect(pad, pad, 48 * scale, 48 * scale, kLight);
  for (int i = 0; i <= 48; i += 4) {  // light grid every 4 pixels
    c.fill_rect(pad + i * scale, pad, 1, 48 * scale, kGrey);
    c.fill_rect(pad, pad + i * scale, 48 * scale, 1, kGrey);
  }
  for (int r = 0; r < 13; ++r) {
    draw_region(c, pad, pad, scale, pos[r], 3, r < 9 ? kBlue : kGreen, true);
    c.text(pad + pos[r].s * scale + 26, pad + pos[r].r * scale + 4, "P" + std::to_string(r), kBlack);
  }
  c.write_png(path);
}

void draw_local_negatives(const std::string& path) {
  const RegionGrid g = region_grid(48, 3);
  const auto pos = positive_regions(g);
  const auto neg = negative_regions(g);
  const LocalRegionTable t = local_region_table(g);
  const int scale = 4, map = 48 * scale, gap = 24, cols = 5, head = 40;
  const int rows = (13 + cols - 1) / cols;
  Canvas c(cols * (map + gap) + gap, head + rows * (map + gap + 20) + 40);
  c.text(10, 10, "EACH POSITIVE (GREEN) AND ITS 5 NEGATIVES (RED, ORANGE = 5TH, DROPPED BY L^D)", kBlack);
  for (int r = 0; r < 13; ++r) {
    const int ox = gap + (r % cols) * (map + gap), oy = head + 20 + (r / cols) * (map + gap + 20);
    c.fill_rect(ox, oy, map, map, kLight);
    frame(c, ox - 1, oy - 1, map + 2, map + 2, kMid);
    for (const RegionPos& p : t.positions) draw_region(c, ox, oy, scale, p, 3, kGrey, false);
    for (int j = 0; j < 5; ++j) draw_region(c, ox, oy, scale, neg[r][j], 3, j < 4 ? kRed : kOrange, true);
    draw_region(c, ox, oy, scale, pos[r], 3, kGreen, true);
    c.text(ox, oy - 16, "P" + std::to_string(r), kBlack);
  }
  // The last row's free cells: a legend.
  const int lx = gap + (13 % cols) * (map + gap), ly = head + 20 + (13 / cols) * (map + gap + 20);
  const std::pair<Rgb, const char*> items[] = {
      {kGreen, "positive region"}, {kRed, "negatives 1-4"}, {kOrange, "negative 5 (L^R)"}, {kGrey, "other positions"}};
  int y = ly;
  for (const auto& [col, label] : items) {
    c.fill_rect(lx, y, 14, 14, col);
    c.text(lx + 20, y + 2, label, kBlack);
    y += 22;
  }
  c.text(lx, y + 10, "L^R: NEGATIVES FROM BOTH VIEWS (10)", kBlack);
  c.text(lx, y + 30, "L^D: FIRST 4, ANCHOR + POSITIVE MAP (8)", kBlack);
  c.write_png(path);
}

// The default folder: in the working directory, never the documentation's pictures (docs/img is
// regenerated only when named with --out).
const char* const kDefaultDrawFolder = "draw-pictures";

CommandSpec draw_spec() {
  return {"draw", "pictures of the contrastive losses' pair rules (PNG)", "contraseg draw [--out DIR] [--overwrite]",
          "Draws the pair rules of the contrastive losses from their term lists: the G^D and G^D-\n"
          "batches in paper and reference mode (one anchor, its positives and negatives) and the\n"
          "13 local regions with their negatives, as PNG files in DIR (gd_paper.png, gd_reference.png,\n"
          "gdminus_paper.png, gdminus_reference.png, local_regions.png, local_negatives.png).\n"
          "The documentation's pictures are made with --out docs/img --overwrite.\n",
          {option("out", "DIR", std::string("folder for the pictures (default ") + kDefaultDrawFolder +
                                    " in the current directory)"),
           flag("overwrite", "replace pictures of these names already in DIR (without it they are refused)")}};
}

const char* const kDrawFiles[] = {"gd_paper.png",      "gd_reference.png",  "gdminus_paper.png",
                                  "gdminus_reference.png", "local_regions.png", "local_negatives.png"};

// Pictures of draw's names already in `out` are replaced only with --overwrite; checked before any
// is drawn.
void check_draw_output(const std::string& out, bool overwrite) {
  if (overwrite) return;
  std::string existing;
  for (const char* name : kDrawFiles)
    if (path_exists(out + "/" + name)) existing += std::string(existing.empty() ? "" : ", ") + name;
  if (!existing.empty())
    throw std::runtime_error(out + ": holds " + existing +
                             " already; add --overwrite to replace them, or choose another --out");
}

int cmd_draw(const Args& args) {
  const std::string out = args.get("out", kDefaultDrawFolder);
  check_draw_output(out, args.flag("overwrite"));
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) throw std::runtime_error(out + ": cannot create the folder: " + ec.message());
  const std::vector<std::pair<std::string, std::pair<GlobalLossKind, Compat>>> globals = {
      {"gd_paper.png", {GlobalLossKind::GD, Compat::Paper}},
      {"gd_reference.png", {GlobalLossKind::GD, Compat::Reference}},
      {"gdminus_paper.png", {GlobalLossKind::GDMinus, Compat::Paper}},
      {"gdminus_reference.png", {GlobalLossKind::GDMinus, Compat::Reference}}};
  for (const auto& [name, kc] : globals) {
    draw_global(kc.first, kc.second, out + "/" + name);
    std::printf("%s/%s\n", out.c_str(), name.c_str());
  }
  draw_local_overview(out + "/local_regions.png");
  std::printf("%s/local_regions.png\n", out.c_str());
  draw_local_negatives(out + "/local_negatives.png");
  std::printf("%s/local_negatives.png\n", out.c_str());
  return 0;
}

}  // namespace

CS_COMMAND(draw_spec(), cmd_draw);

}  // namespace cs
