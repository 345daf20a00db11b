#include "experiments/pipeline/stage_checks.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include <fmt/format.h>

#include "experiments/methods/registry.h"
#include "nn/summary.h"

namespace cs {
namespace {

// A batch that draws `volumes` distinct volumes and `partitions` slices from each (one per
// partition, docs/method.md §2.3); `because` names the setting that asks for it.
struct PartitionedDraw {
  int volumes = 0, partitions = 0;  // volumes 0: slices drawn uniformly, any pool will do
  std::string volumes_key, partitions_key;
};

PartitionedDraw partitioned_draw(const StageStep& step, const Settings& settings) {
  const SlotLayout* layout = step.slot_layout();
  if (!layout || layout->partitions == 0) return {};
  int volumes = 0;
  for (const auto& draw : layout->draws) volumes = std::max(volumes, static_cast<int>(draw.size()));
  const Stage stage = step.stage();
  if (stage == Stage::Global && settings.run.compat == Compat::Paper)
    return {volumes, layout->partitions, "global.volumes", "global.partitions"};
  // The fixed batches of reference mode and L^D: no key sets their size.
  const std::string why = std::string(method_key(stage)) + " = " + settings.method(stage) +
                          (stage == Stage::Global ? " in reference mode" : "");
  return {volumes, layout->partitions, why, why};
}

// "1.2 GB", "350 KB": bytes in the unit that keeps the number readable.
std::string bytes_text(double bytes) {
  const char* units[] = {"bytes", "KB", "MB", "GB", "TB", "PB"};
  int u = 0;
  while (bytes >= 1000 && u < 5) {
    bytes /= 1000;
    ++u;
  }
  return fmt::format(bytes < 10 && u > 0 ? "{:.1f} {}" : "{:.0f} {}", bytes, units[u]);
}

}  // namespace

void check_pool_fits_batch(const StageStep& step, const Settings& settings, const std::vector<PreparedCase>& pool,
                           const std::string& pool_name) {
  const PartitionedDraw d = partitioned_draw(step, settings);
  if (d.volumes == 0) return;
  if (static_cast<int>(pool.size()) < d.volumes) {
    const bool key = d.volumes_key == "global.volumes";
    std::string fix = "use a split with a larger pool";
    if (key && pool.size() >= 2)
      fix = fmt::format("set global.volumes={} or fewer, or {}", pool.size(), fix);
    else if (key)  // the negatives of G^D come from the other volumes of the batch
      fix = fix + ", or global.loss=gr, which needs no second volume";
    const std::string what = key ? "global.volumes = " + std::to_string(d.volumes) : d.volumes_key;
    throw std::invalid_argument(fmt::format("{}: a batch draws {} distinct volumes, but the {} has {}; {}", what,
                                            d.volumes, pool_name, pool.size(), fix));
  }
  for (const PreparedCase& c : pool)
    if (c.stack.z < d.partitions) {
      const bool key = d.partitions_key == "global.partitions";
      throw std::invalid_argument(fmt::format(
          "{}: case {} of the {} has {} slices, fewer than the {} partitions each volume is cut into; {}",
          key ? "global.partitions = " + std::to_string(d.partitions) : d.partitions_key, c.id, pool_name, c.stack.z,
          d.partitions,
          key ? fmt::format("set global.partitions={} or fewer, or leave the case out of the pool", c.stack.z)
              : "leave the case out of the pool"));
    }
}

void check_step_memory(StageStep& step) {
  // A lower bound: the outputs of the layers with parameters, which backward needs, one copy each
  // in fp32. The real need is a few times more (BN and ReLU outputs, gradients, workspaces).
  const UNetConfig& net = step.model().config();
  static thread_local std::pair<int, double> cached = {0, 0.0};  // (image size, bytes per image)
  if (cached.first != net.image_size) {
    double elements = 0;
    for (const LayerRow& r : summarize_model(net).rows)
      if (r.section == "encoder") elements += static_cast<double>(shape_numel(r.output));
    cached = {net.image_size, elements * sizeof(float)};
  }
  const double per_image = cached.second;
  const double need = per_image * step.images_per_step();
  const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGE_SIZE));
  if (need <= memory) return;
  const std::string key = step.stage() == Stage::Global    ? "global.batch / global.volumes"
                          : step.stage() == Stage::Local   ? "local.batch"
                          : step.stage() == Stage::Pretext ? "pretext.batch"
                                                           : "finetune.batch";
  throw std::invalid_argument(fmt::format(
      "{}: a step of {} images of {}x{} needs at least {} for its activations (about {} an image), more than "
      "this machine's {} of memory; lower {} (at most about {} images a step fit), or image_size",
      key, step.images_per_step(), net.image_size, net.image_size, bytes_text(need), bytes_text(per_image),
      bytes_text(memory), key, static_cast<long long>(memory / per_image)));
}

void check_stage_inputs(StageStep& step, const Settings& settings, const std::vector<PreparedCase>& train,
                        const std::string& train_name) {
  check_pool_fits_batch(step, settings, train, train_name);
  check_step_memory(step);
  step.sample(0);
}

}  // namespace cs
