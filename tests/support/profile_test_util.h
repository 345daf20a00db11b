#pragma once
// Reading the op table of a `contraseg profile` report (experiments/profile/): shared by the CPU
// and CUDA profile tests.
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace cs::testing_profile {

// The op table: op name -> its columns (calls/st, fwd ms, bwd ms, share, fwd GF/s, bwd GF/s,
// fwd GB/s, bwd GB/s), from the line after the header "op ..." to the first empty line.
inline std::map<std::string, std::vector<std::string>> op_rows(const std::string& report) {
  std::map<std::string, std::vector<std::string>> rows;
  std::istringstream in(report);
  bool in_table = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("op ", 0) == 0) {
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (line.empty()) break;
    std::istringstream row(line);
    std::string name;
    row >> name;
    for (std::string c; row >> c;) rows[name].push_back(c);
  }
  return rows;
}

}  // namespace cs::testing_profile
