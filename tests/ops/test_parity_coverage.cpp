// Every CUDA kernel has a row in the CUDA parity table (parity_table.h), checked without a GPU.
// The kernels are read from the source tree: every name declared in a `namespace cuda { ... }`
// block of a header under autograd/, ops/, nn/ or losses/ (an op group's kernel declarations,
// docs/adding-an-op.md). The backends' own folders (*/cuda/, */cpu/) hold their helpers, not
// kernels, and are not read.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "parity_table.h"

namespace cs::cudatest {
namespace {

namespace fs = std::filesystem;
using Names = std::set<std::string>;

std::string without_comments(const std::string& text) {
  static const std::regex comments(R"(//[^\n]*|/\*[\s\S]*?\*/)");
  return std::regex_replace(text, comments, " ");
}

// The names declared in the `namespace cuda { ... }` blocks of one header's text: `Type name;`
// (a kernel of a function type) or `void name(...);`.
Names cuda_declarations(const std::string& header) {
  static const std::regex block_start(R"(namespace\s+cuda\s*\{)");
  static const std::regex declared_name(R"(([A-Za-z_]\w*)\s*(\([\s\S]*\))?\s*$)");
  Names names;
  const std::string text = without_comments(header);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), block_start); it != std::sregex_iterator(); ++it) {
    size_t end = it->position() + it->length();
    for (int depth = 1; end < text.size() && depth > 0; ++end) depth += text[end] == '{' ? 1 : text[end] == '}' ? -1 : 0;
    std::stringstream body(text.substr(it->position() + it->length(), end - 1 - it->position() - it->length()));
    for (std::string decl; std::getline(body, decl, ';');) {
      std::smatch m;
      if (std::regex_search(decl, m, declared_name)) names.insert(m[1]);
    }
  }
  return names;
}

Names declared_cuda_kernels() {
  Names names;
  for (const char* part : {"autograd", "ops", "nn", "losses"})
    for (const auto& e : fs::recursive_directory_iterator(fs::path(CONTRASEG_SOURCE_DIR) / part)) {
      const std::string folder = e.path().parent_path().filename().string();
      if (!e.is_regular_file() || e.path().extension() != ".h" || folder == "cuda" || folder == "cpu") continue;
      std::ifstream in(e.path());
      const Names found = cuda_declarations(std::string(std::istreambuf_iterator<char>(in), {}));
      names.insert(found.begin(), found.end());
    }
  return names;
}

Names kernels_named_by(const std::vector<ParityRow>& rows) {
  Names names;
  for (const ParityRow& r : rows) names.insert(r.kernels.begin(), r.kernels.end());
  return names;
}

// The kernels in `declared` that no row names.
Names uncovered(const Names& declared, const std::vector<ParityRow>& rows) {
  const Names covered = kernels_named_by(rows);
  Names missing;
  for (const std::string& k : declared)
    if (!covered.count(k)) missing.insert(k);
  return missing;
}

std::string listed(const Names& names) {
  std::string s;
  for (const std::string& n : names) s += " " + n;
  return s;
}

TEST(ParityTable, ReadsTheKernelDeclarations) {
  EXPECT_EQ(cuda_declarations("namespace cuda { FwdT a_forward; BwdT a_backward; }\n"
                              "// namespace cuda { Commented out; }\n"
                              "namespace cpu { FwdT c_forward; }\n"
                              "namespace cuda {\nvoid b_kernel(const Tensor& x,\n  float* y);\n}\n"),
            (Names{"a_backward", "a_forward", "b_kernel"}));
  const Names all = declared_cuda_kernels();
  EXPECT_TRUE(all.count("conv2d_forward") && all.count("dice_backward") && all.count("axpby")) << listed(all);
}

TEST(ParityTable, CoversEveryCudaKernel) {
  const Names missing = uncovered(declared_cuda_kernels(), parity_table());
  EXPECT_TRUE(missing.empty()) << "CUDA kernels without a row in tests/ops/parity_table.cpp:" << listed(missing);
}

TEST(ParityTable, NamesOnlyDeclaredKernels) {
  const Names declared = declared_cuda_kernels();
  for (const ParityRow& r : parity_table())
    for (const char* k : r.kernels) EXPECT_TRUE(declared.count(k)) << r.name << " names " << k << ", no CUDA kernel";
}

// Test names are unique, and contain "Cuda" (scripts/gpu-check.sh selects the GPU tests by it).
TEST(ParityTable, RowsAreDistinctGpuTests) {
  std::set<std::string> names;
  for (const ParityRow& r : parity_table()) {
    const std::string name = std::string(r.suite) + "." + r.name;
    EXPECT_TRUE(names.insert(name).second) << name << " twice";
    EXPECT_EQ(std::string(r.suite).rfind("Cuda", 0), 0u) << name;
    EXPECT_FALSE(r.kernels.empty()) << name;
  }
}

// The check can fail: without the rows that run relu's kernels, they are reported.
TEST(ParityTable, AKernelWithoutARowIsReported) {
  std::vector<ParityRow> rows;
  for (const ParityRow& r : parity_table())
    if (std::find(r.kernels.begin(), r.kernels.end(), std::string("relu_forward")) == r.kernels.end())
      rows.push_back(r);
  const Names missing = uncovered(declared_cuda_kernels(), rows);
  EXPECT_TRUE(missing.count("relu_forward")) << listed(missing);
}

}  // namespace
}  // namespace cs::cudatest
