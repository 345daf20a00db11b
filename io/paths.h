#pragma once
// Small path helpers shared by the commands and the pipeline.
#include <string>

namespace cs {

// True if the path exists (file or folder).
bool path_exists(const std::string& path);
// The path made absolute against the working directory, with "." and ".." resolved; "" stays "".
std::string absolute_path(const std::string& path);
// Throws naming `file` when the folder it would be written into is missing, not a folder or not
// writable: an output error found before the work, not after it.
void require_output_folder(const std::string& file);
// The same, and an existing `file` is refused unless `overwrite` (a command's --overwrite): an
// output never replaces a file the user did not ask to replace.
void require_new_output_file(const std::string& file, bool overwrite);

// The running program's own file (/proc/self/exe), to start it again as a child or a job.
std::string this_executable();

}  // namespace cs
