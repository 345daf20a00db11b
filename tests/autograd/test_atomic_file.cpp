// The atomic writer every output goes through (autograd/atomic_file.h): the target is replaced
// whole or not at all, no temporary file outlives a call, errors name the target and the cause,
// and writers running side by side in one process never share a temporary file.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "autograd/atomic_file.h"
#include "support/io_test_util.h"

namespace cs {
namespace {

using testing_io::TempDir;
namespace fs = std::filesystem;

std::string read_text(const std::string& path) {
  const auto b = testing_io::read_bytes(path);
  return std::string(b.begin(), b.end());
}

std::set<std::string> names_in(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

// `dir` holds `name` alone (no temporary file beside it), with `contents`.
void expect_alone(const std::string& dir, const std::string& name, const std::string& contents) {
  EXPECT_EQ(names_in(dir), std::set<std::string>{name});
  EXPECT_EQ(read_text(dir + "/" + name), contents);
}

template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(AtomicFile, WritesTheWholeFileAndReplacesTheOldOne) {
  TempDir t;
  const std::string target = t / "out.json";
  write_file_atomic(target, "first");
  write_file_atomic(target, std::string("second\0with a zero byte", 23));
  EXPECT_EQ(read_text(target), std::string("second\0with a zero byte", 23));
  write_file_atomic(target, [](std::FILE* f) { std::fputs("streamed", f); });
  expect_alone(t.path(), "out.json", "streamed");
}

TEST(AtomicFile, AFillThatThrowsMidwayLeavesTheTargetAndNoTemporaryFile) {
  TempDir t;
  const std::string target = t / "out.csv";
  write_file_atomic(target, "old contents");
  const auto fill = [](std::FILE* f) {
    std::fputs("half of the new", f);
    std::fflush(f);  // the bytes reach the temporary file before the failure
    throw std::invalid_argument("encoder gave up");
  };
  EXPECT_THROW(write_file_atomic(target, fill), std::invalid_argument);  // passed on unchanged
  expect_alone(t.path(), "out.csv", "old contents");
}

// A file size limit stands in for a disk that fills up halfway through the write.
TEST(AtomicFile, AWriteThatFailsMidwayNamesTheTargetAndTheCause) {
  TempDir t;
  const std::string target = t / "big.bin";
  write_file_atomic(target, "old contents");
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  rlimit small = old;
  small.rlim_cur = 4096;
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // the write then fails with EFBIG
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::string msg = error_of([&] { write_file_atomic(target, std::string(1 << 20, 'x')); });
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(msg, target + ": cannot write: File too large");
  expect_alone(t.path(), "big.bin", "old contents");
}

TEST(AtomicFile, ATargetThatCannotBeReplacedIsLeftAsItWas) {
  TempDir t;
  const std::string target = t / "taken";
  testing_io::write_text(target + "/inside", "a folder holding a file");  // rename cannot replace it
  EXPECT_EQ(error_of([&] { write_file_atomic(target, "new"); }), target + ": cannot move into place: Is a directory");
  EXPECT_EQ(read_text(target + "/inside"), "a folder holding a file");
  EXPECT_EQ(names_in(t.path()), std::set<std::string>{"taken"});
}

// A regular file where a folder should be refuses creation even to root.
TEST(AtomicFile, AnUncreatableTargetNamesTheCause) {
  TempDir t;
  testing_io::write_text(t / "plain_file", "not a folder");
  const std::string missing = t / "no/such/folder/x.txt", under_file = t / "plain_file/x.txt";
  EXPECT_EQ(error_of([&] { write_file_atomic(missing, "x"); }), missing + ": cannot create: No such file or directory");
  EXPECT_EQ(error_of([&] { write_file_atomic(under_file, "x"); }), under_file + ": cannot create: Not a directory");
  EXPECT_EQ(names_in(t.path()), std::set<std::string>{"plain_file"});
}

TEST(AtomicFile, WritersSideBySideUseTheirOwnTemporaryFiles) {
  TempDir t;
  const std::string target = t / "shared.txt";
  {
    AtomicFile a(target), b(target);
    EXPECT_NE(a.temp_path(), b.temp_path());
    EXPECT_NE(a.temp_path().find(".tmp." + std::to_string(::getpid()) + "."), std::string::npos) << a.temp_path();
  }
  EXPECT_TRUE(names_in(t.path()).empty());  // neither was committed

  // Threads replacing one file over and over: each write succeeds and the file always holds
  // exactly one writer's bytes, never a mix.
  constexpr int kThreads = 8, kWrites = 40;
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      const std::string payload(64 * 1024, static_cast<char>('a' + i));
      try {
        for (int k = 0; k < kWrites; ++k) write_file_atomic(target, payload);
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  for (auto& th : threads) th.join();
  for (int i = 0; i < kThreads; ++i) EXPECT_EQ(errors[i], "") << "thread " << i;
  const std::string got = read_text(target);
  ASSERT_EQ(got.size(), 64u * 1024);
  EXPECT_EQ(got.find_first_not_of(got[0]), std::string::npos) << "bytes of several writers in one file";
  EXPECT_EQ(names_in(t.path()), std::set<std::string>{"shared.txt"});
}

// Libraries that open the file by name write to temp_path(), which keeps the target's extension.
TEST(AtomicFile, WritingByNameThenCommitting) {
  TempDir t;
  const std::string target = t / "vol.nii.gz";
  write_file_atomic(target, "old");
  {
    AtomicFile file(target, ".nii.gz");
    const std::string& tmp = file.temp_path();
    EXPECT_EQ(tmp.rfind(t / "vol.tmp.", 0), 0u) << tmp;
    EXPECT_EQ(tmp.substr(tmp.size() - 7), ".nii.gz") << tmp;
    std::ofstream(tmp, std::ios::binary) << "by name";
    // dropped without commit: the target stays, the temporary file goes
  }
  expect_alone(t.path(), "vol.nii.gz", "old");
  {
    AtomicFile file(target, ".nii.gz");
    std::ofstream(file.temp_path(), std::ios::binary) << "by name";
    file.commit();
    EXPECT_EQ(file.stream(), nullptr);
    EXPECT_THROW(file.commit(), std::logic_error);
  }
  expect_alone(t.path(), "vol.nii.gz", "by name");
  EXPECT_THROW(AtomicFile(target, ".png"), std::invalid_argument);
}

}  // namespace
}  // namespace cs
