#pragma once
// A synthetic cardiac cine-MRI phantom in the ACDC layout, so that every stage runs with no
// download and tests have realistic data.
//
// Each patient is a short-axis stack from base (slice 0) to apex (last slice): LV blood pool
// (bright) with papillary muscles and trabeculations (dark spots, labelled LV as in ACDC),
// myocardium ring (dark grey), an RV crescent that thins towards the apex and is absent from the
// apical slices, epicardial fat, and around the heart mediastinal tissue, lungs (dark), the
// chest wall (subcutaneous fat, muscle), descending aorta (bright, a decoy for the LV pool),
// spine and, towards the apex, liver. Patients differ in size, ellipticity, position, rotation,
// wall thickness, tissue contrast, pixel size (1.2-1.9 mm), slice spacing (5-10 mm) and slice
// count (6-12). Images get in-plane and through-slice partial volume, blur, a smooth
// multiplicative bias field and Rician noise, and are stored as int16-valued intensities.
// Groups follow ACDC (DCM, HCM, MINF, NOR, RV in blocks of patients) and change the LV/RV
// geometry and contraction. Labels: 0 background, 1 RV, 2 Myo, 3 LV.
//
// Patient k is a pure function of (seed, k): the number of patients only sets the groups.
#include <cstdint>
#include <string>

#include "io/volume.h"

namespace cs {

struct PhantomOptions {
  int patients = 20;
  uint64_t seed = 0;
};

struct PhantomFrame {
  Volume image;  // integer intensities (int16 range) stored as float, NIfTI order (x fastest)
  Volume label;  // 0..3, same geometry as image
};

struct PhantomPatient {
  int id = 1;             // 1-based: patient001
  std::string group;      // DCM, HCM, MINF, NOR or RV
  int ed_frame = 1, es_frame = 10, nb_frames = 30;
  double height_cm = 170, weight_kg = 70;
  PhantomFrame ed, es;
};

// "patient001" for id 1.
std::string phantom_patient_name(int id);
// ACDC group of patient `id` among `patients`: five equal consecutive blocks DCM, HCM, MINF,
// NOR, RV (as ACDC's 100 training patients).
std::string phantom_group(int id, int patients);

// Builds both frames of one patient. Throws std::invalid_argument on id outside [1, patients].
PhantomPatient make_phantom_patient(int id, const PhantomOptions& opt);

// The Info.cfg text of ACDC ("ED: 1\nES: 12\nGroup: DCM\nHeight: ...\nNbFrame: ...\nWeight: ...").
std::string phantom_info_cfg(const PhantomPatient& p);

// Writes DIR/patientNNN/{patientNNN_frameXX.nii.gz, patientNNN_frameXX_gt.nii.gz, Info.cfg}
// for the ED and ES frames (image int16, labels uint8). Creates the directories.
void write_phantom_patient(const std::string& dir, const PhantomPatient& p);

}  // namespace cs
