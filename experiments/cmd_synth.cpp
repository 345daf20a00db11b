// `contraseg synth --out DIR [--patients N] [--seed S] [--threads T]`: writes the synthetic cardiac
// phantom (io/synth.h) in the ACDC layout, one line of progress per patient.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "experiments/cli.h"
#include "io/synth.h"

namespace cs {
namespace {

int cmd_synth(int argc, char** argv) {
  Args args(argc, argv, {"out", "patients", "seed", "threads"});
  if (args.help()) {
    std::printf(
        "usage: contraseg synth --out DIR [--patients N] [--seed S] [--threads T]\n\n"
        "Writes a synthetic cardiac cine-MRI dataset in the ACDC layout:\n"
        "  DIR/patientNNN/patientNNN_frame01.nii.gz      end-diastole image (int16)\n"
        "  DIR/patientNNN/patientNNN_frame01_gt.nii.gz   its labels (0 bg, 1 RV, 2 Myo, 3 LV)\n"
        "  DIR/patientNNN/patientNNN_frameXX[_gt].nii.gz end-systole\n"
        "  DIR/patientNNN/Info.cfg                       ED, ES, Group, Height, NbFrame, Weight\n"
        "Patients are split into the five ACDC groups (DCM, HCM, MINF, NOR, RV) in equal blocks.\n"
        "  --patients N   number of patients (default 20)\n"
        "  --seed S       random seed (default 0); patient k depends only on (S, k)\n"
        "  --threads T    patients generated in parallel (default: hardware threads, at most 8)\n");
    return 0;
  }
  if (!args.positional().empty())
    throw std::invalid_argument("unexpected argument '" + args.positional()[0] + "' (see --help)");
  const std::string out = args.require("out");
  PhantomOptions opt;
  opt.patients = args.get_int("patients", 20);
  if (opt.patients < 1 || opt.patients > 999)
    throw std::invalid_argument("--patients must be in [1, 999], got " + std::to_string(opt.patients));
  const std::string seed = args.get("seed", "0");
  try {
    size_t pos = 0;
    opt.seed = std::stoull(seed, &pos);
    if (pos != seed.size() || seed[0] == '-') throw std::invalid_argument(seed);
  } catch (...) {
    throw std::invalid_argument("--seed: '" + seed + "' is not a non-negative integer");
  }
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = std::clamp(args.get_int("threads", std::min(hw, 8)), 1, opt.patients);

  std::printf("synth: %d patients, seed %llu -> %s\n", opt.patients,
              static_cast<unsigned long long>(opt.seed), out.c_str());
  const auto t0 = std::chrono::steady_clock::now();
  // Workers take patients in order; lines are printed in patient order as they complete.
  std::atomic<int> next{1};
  std::mutex mu;
  std::map<int, std::string> done;
  int printed = 0;
  std::string error;
  auto worker = [&] {
    for (int id = next++; id <= opt.patients; id = next++) {
      std::string line;
      try {
        const PhantomPatient p = make_phantom_patient(id, opt);
        write_phantom_patient(out, p);
        const Volume& v = p.ed.image;
        char buf[256];
        std::snprintf(buf, sizeof buf, "  %s  %-4s  %3dx%3dx%2d  %.2fx%.2fx%.1f mm  ED frame %02d  ES frame %02d",
                      phantom_patient_name(id).c_str(), p.group.c_str(), v.nx, v.ny, v.nz, v.dx, v.dy, v.dz,
                      p.ed_frame, p.es_frame);
        line = buf;
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu);
        if (error.empty()) error = phantom_patient_name(id) + ": " + e.what();
        next = opt.patients + 1;  // stop handing out work
        return;
      }
      std::lock_guard<std::mutex> lock(mu);
      done[id] = line;
      while (done.count(printed + 1)) {
        std::printf("%s\n", done[printed + 1].c_str());
        std::fflush(stdout);
        done.erase(++printed);
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  if (!error.empty()) throw std::runtime_error(error);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("synth: wrote %d patients in %.1f s\n", opt.patients, s);
  return 0;
}

}  // namespace

CS_COMMAND("synth", "write a synthetic cardiac MRI phantom dataset (ACDC layout)", cmd_synth);

}  // namespace cs
