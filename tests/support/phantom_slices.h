#pragma once
// Preprocessed slices of phantom patients (io/synth), 32 x 32 at 8 mm as the command tests train
// them: the held-out and training data of the pretext tests.
#include <vector>

#include "experiments/pipeline/data.h"
#include "io/synth/synth.h"

namespace cs::testing_phantom {

// Patients [first, last] of the 20-patient phantom of seed 3, their end-diastole volumes.
inline std::vector<SliceStack> phantom_stacks(int first, int last) {
  PhantomOptions o;
  o.patients = 20;
  o.seed = 3;
  PreprocessParams p = dataset_params("acdc");
  p.out_h = p.out_w = 32;
  p.target_dx = p.target_dy = 8.0;
  std::vector<SliceStack> stacks;
  for (int id = first; id <= last; ++id) {
    const PhantomPatient pt = make_phantom_patient(id, o);
    LoadedCase c;
    c.id = phantom_patient_name(id);
    c.image = pt.ed.image;
    c.label = pt.ed.label;
    stacks.push_back(prepare_case(c, p, false).stack);
  }
  return stacks;
}

}  // namespace cs::testing_phantom
