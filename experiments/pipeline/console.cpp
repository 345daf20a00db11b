#include "experiments/pipeline/console.h"

#include <unistd.h>

#include <cstdio>

namespace cs {
namespace {

thread_local ConsoleCapture* active = nullptr;
bool quiet_run = false;  // set once by the command, before any thread starts

}  // namespace

void say(const std::string& line) {
  if (active) {
    active->add(line);
    return;
  }
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void say_progress(const std::string& line) {
  if (!quiet_run) say(line);
}

void set_quiet(bool quiet) { quiet_run = quiet; }
bool console_quiet() { return quiet_run; }

bool console_live() { return !active && isatty(fileno(stdout)); }

ConsoleCapture::ConsoleCapture() : outer_(active) { active = this; }
ConsoleCapture::~ConsoleCapture() { active = outer_; }

}  // namespace cs
