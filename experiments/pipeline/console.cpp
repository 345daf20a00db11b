#include "experiments/pipeline/console.h"

#include <unistd.h>

#include <cstdio>

namespace cs {
namespace {

thread_local ConsoleCapture* active = nullptr;

}  // namespace

void say(const std::string& line) {
  if (active) {
    active->add(line);
    return;
  }
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

bool console_live() { return !active && isatty(fileno(stdout)); }

ConsoleCapture::ConsoleCapture() : outer_(active) { active = this; }
ConsoleCapture::~ConsoleCapture() { active = outer_; }

}  // namespace cs
