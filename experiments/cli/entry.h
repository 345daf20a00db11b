#pragma once
// The whole `contraseg` command line: help, --version and the subcommands (experiments/cli/cmd_*.cpp),
// with their errors turned into exit codes (2: usage, 1: failure). main() is this one call.
namespace cs {

int command_main(int argc, char** argv);

}  // namespace cs
