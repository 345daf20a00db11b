// contraseg: contrastive pre-training of a UNet with global and local losses, and fine-tuning
// with few labels. `contraseg help` lists the subcommands, `contraseg help COMMAND` shows one.
#include "experiments/cli/entry.h"

int main(int argc, char** argv) { return cs::command_main(argc, argv); }
