#pragma once
// A synthetic cardiac cine-MRI phantom in the ACDC layout, so that every stage runs with no
// download and tests have realistic data.
//
// Each patient is a short-axis stack from base to apex: LV blood pool (bright) with papillary
// muscles and trabeculations (dark spots, labelled LV as in ACDC), myocardium ring (dark grey), an
// RV crescent that thins towards the apex and is absent from the apical slices, epicardial fat, and
// around the heart mediastinal tissue, lungs (dark), the chest wall (subcutaneous fat, muscle),
// descending aorta (bright, a decoy for the LV pool), spine and, towards the apex, liver. Patients
// differ in size, ellipticity, position, rotation, wall thickness, tissue contrast and acquisition
// (PhantomAcquisition: by default pixel size 1.2-1.9 mm, slice spacing 5-10 mm, slice count 6-12).
// Images get in-plane and through-slice partial volume, blur, a smooth multiplicative bias field
// and Rician noise, and are stored as int16-valued intensities, by default with slice 0 at the base
// and no scaling.
// Groups follow ACDC (DCM, HCM, MINF, NOR, RV in blocks of patients) and change the LV/RV
// geometry and contraction. Labels: 0 background, 1 RV, 2 Myo, 3 LV.
//
// Patient k is a pure function of (seed, k, acquisition): the number of patients only sets the
// groups.
#include <cstdint>
#include <string>

#include "io/volume.h"

namespace cs {

// How the phantom is acquired and stored. The defaults are the original phantom; another value
// changes the data as another scanner or protocol would, from the same random draws (a range maps
// the same uniform draw, so e.g. a patient's anatomy does not change with the storage options).
struct PhantomAcquisition {
  double pixel_lo = 1.2, pixel_hi = 1.9;      // in-plane pixel size (mm)
  double fov_lo = 280, fov_hi = 350;          // field of view along y (mm); x is 1.0-1.2 times it
  int slices_lo = 6, slices_hi = 12;          // slice count, from base to apex
  double spacing_lo = 5, spacing_hi = 10;     // slice spacing (mm)
  double gain_lo = 150, gain_hi = 900;        // intensity scale of the int16 output

  // Storage only: voxels move, their world (scanner mm) position does not (qform and sform follow).
  enum class SliceOrder { BaseToApex, ApexToBase };
  SliceOrder slice_order = SliceOrder::BaseToApex;  // which end slice 0 is
  bool transpose = false;      // swap the in-plane voxel axes
  bool flip_x = false, flip_y = false;  // reverse the stored x / y axis (after transpose)
  // int16 scaling: the integer intensities are stored as q = round((intensity - scl_inter) /
  // scl_slope), clipped to int16, so a reader gets them back within scl_slope / 2 (unless clipped).
  // scl_slope 0: no scaling (the stored values are the intensities).
  double scl_slope = 0, scl_inter = 0;
};

struct PhantomOptions {
  int patients = 20;
  uint64_t seed = 0;
  PhantomAcquisition acq;
};

// Throws std::invalid_argument naming the fields on an empty, non-finite or non-positive range, a
// slice count outside 2..512, a stack that cannot cover 30 mm of heart, matrices outside 16..1024
// pixels, or a scaling the header cannot hold (slope 0 or not a float32, inter without slope,
// |inter| above 1e6 |slope|).
void check_phantom_acquisition(const PhantomAcquisition& a);

struct PhantomFrame {
  // Intensities as a reader gets them back (integers in int16 range, or q * slope + inter when
  // scaled), stored as float in NIfTI order (x fastest), in the storage order of the options.
  Volume image;
  Volume label;  // 0..3, same geometry as image
};

struct PhantomPatient {
  int id = 1;             // 1-based: patient001
  std::string group;      // DCM, HCM, MINF, NOR or RV
  int ed_frame = 1, es_frame = 10, nb_frames = 30;
  double height_cm = 170, weight_kg = 70;
  double scl_slope = 0, scl_inter = 0;  // int16 scaling of the image files (slope 0: none)
  PhantomFrame ed, es;
};

// "patient001" for id 1.
std::string phantom_patient_name(int id);
// ACDC group of patient `id` among `patients`: five equal consecutive blocks DCM, HCM, MINF,
// NOR, RV (as ACDC's 100 training patients).
std::string phantom_group(int id, int patients);

// Builds both frames of one patient. Throws std::invalid_argument on id outside [1, patients]
// or acquisition options that check_phantom_acquisition rejects.
PhantomPatient make_phantom_patient(int id, const PhantomOptions& opt);

// The Info.cfg text of ACDC ("ED: 1\nES: 12\nGroup: DCM\nHeight: ...\nNbFrame: ...\nWeight: ...").
std::string phantom_info_cfg(const PhantomPatient& p);

// Writes DIR/patientNNN/{patientNNN_frameXX.nii.gz, patientNNN_frameXX_gt.nii.gz, Info.cfg}
// for the ED and ES frames (image int16, scaled by p.scl_slope/scl_inter when set; labels uint8).
// Creates the directories.
void write_phantom_patient(const std::string& dir, const PhantomPatient& p);

}  // namespace cs
