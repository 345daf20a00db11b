#pragma once
// What the stages print for people. reproduce trains several fine-tuning runs at once on the CPU
// (reproduce.workers); each worker thread collects its run's lines and prints them as one block
// when the run ends, so the terminal reads as if the runs had gone one after another.
#include <string>

namespace cs {

// Prints one line (a newline is added), or keeps it when this thread collects its output.
void say(const std::string& line);
// The same for progress a user need not see: nothing while quiet (a command's --quiet, which
// leaves the terminal to errors and results).
void say_progress(const std::string& line);
void set_quiet(bool quiet);
bool console_quiet();

// Whether this thread's output goes to the terminal as it comes (and may therefore redraw a
// progress line): stdout is a terminal and no ConsoleCapture is active on this thread.
bool console_live();

// While alive, say() on this thread appends to the capture instead of printing.
class ConsoleCapture {
 public:
  ConsoleCapture();
  ~ConsoleCapture();
  ConsoleCapture(const ConsoleCapture&) = delete;
  ConsoleCapture& operator=(const ConsoleCapture&) = delete;
  void add(const std::string& line) { text_ += line + "\n"; }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  ConsoleCapture* outer_;
};

}  // namespace cs
