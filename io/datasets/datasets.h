#pragma once
// Dataset layouts users already have on disk, listed as cases (id + image path + label path),
// and loading a case into image and label volumes with the per-dataset conventions of docs/method.md §6.3.
//
// Layouts (the root may be the dataset folder or its parent where noted):
//   acdc      <root>/[training/|testing/]patientNNN/patientNNN_frameXX.nii.gz (+ _gt), Info.cfg
//             with "ED: n" and "ES: n". Phase frame01 (docs/method.md §6.3, the default), ED or ES.
//             Case id "NNN" (as in the split files).
//   prostate  MSD Task05: <root>/imagesTr/prostate_NN.nii.gz + labelsTr/prostate_NN.nii.gz, the
//             image 4D with channel 0 = T2 (the one used); or the reference layout
//             <root>/<id>/img.nii.gz + mask.nii.gz. Case id zero-padded to 3 digits ("000").
//   mmwhs     <root>/[mr_train/]mr_train_NNNN_image.nii.gz + mr_train_NNNN_label.nii.gz, or the
//             reference layout <root>/<id>/img.nii.gz + seg.nii.gz. Case id "NNNN". Label values
//             205, 420, 500, 550, 600, 820, 850 are remapped to 1..7 (myo, LA, LV, RA, RV, AA, PA);
//             421 (a known mislabelling of LA in some MM-WHS volumes) maps to 2 as well; volumes
//             whose labels are already within 0..7 are kept as they are.
//   nnunet    nnU-Net raw: <root>/dataset.json, imagesTr/<case>_0000<ending> +
//             labelsTr/<case><ending> (ending from dataset.json's file_ending, default .nii.gz);
//             imagesTs/<case>_0000<ending> are listed as unlabelled cases. Only channel 0 is used.
// Files whose names start with '.' (e.g. the "._" files of macOS archives) are ignored.
#include <string>
#include <vector>

#include "io/datasets/splits.h"
#include "io/volume.h"

namespace cs {

enum class LabelRemap { None, Mmwhs };

struct Case {
  std::string id;      // as in the split files
  std::string image;   // path
  std::string label;   // path, empty for unlabelled cases
  int channel = 0;     // volume of a 4D image to use
  LabelRemap remap = LabelRemap::None;
};

enum class AcdcPhase { Frame01, ED, ES };
AcdcPhase parse_acdc_phase(const std::string& s);  // "frame01" | "ED" | "ES" (case-insensitive)

struct DatasetOptions {
  AcdcPhase acdc_phase = AcdcPhase::Frame01;
};

// Lists the cases of a layout, sorted by id. Throws std::runtime_error naming the root (or the
// case) when the folder is missing, holds no case of that layout, a case lacks its image, or an
// ACDC Info.cfg is missing or malformed when ED/ES is asked for.
std::vector<Case> list_acdc(const std::string& root, AcdcPhase phase = AcdcPhase::Frame01);
std::vector<Case> list_prostate(const std::string& root);
std::vector<Case> list_mmwhs(const std::string& root);
std::vector<Case> list_nnunet(const std::string& root);
// dataset: "acdc", "prostate", "mmwhs" or "nnunet".
std::vector<Case> list_cases(const std::string& dataset, const std::string& root,
                             const DatasetOptions& opt = {});

// The cases with the given ids, in that order; throws naming every id not found.
std::vector<Case> select_cases(const std::vector<Case>& all, const IdList& ids);

struct LoadedCase {
  std::string id;
  Volume image;
  Volume label;  // empty (nx == 0) when the case has no label
  bool has_label() const { return label.nx > 0; }
};

// Reads a case. With a label: its dims must equal the image's, its voxel size agree within 1e-3
// (relative), and, when both files carry an affine (sform or qform code > 0), every entry of the
// voxel-to-world matrices agree within 1e-3 * max(1, |entry|); otherwise std::runtime_error
// naming the case.
// require_label: a case without a label file is an error.
LoadedCase load_case(const Case& c, bool require_label = true);

// The voxel-to-world matrix a volume's header uses: the sform when sform_code > 0, else the qform
// when qform_code > 0, else diag(dx, dy, dz). `coded` tells whether either code was set.
void volume_affine(const Volume& v, double m[4][4], bool* coded = nullptr);

// MM-WHS label remapping (see above), in place; throws std::runtime_error naming `what` on a
// value that is neither a raw MM-WHS label nor within 0..7.
void remap_mmwhs_labels(Volume& label, const std::string& what);

}  // namespace cs
