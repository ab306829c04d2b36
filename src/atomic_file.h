// Write a file so that readers see either the old content or the complete new
// one, never a torn write: the content goes to PATH.tmp-PID, is flushed, and is
// renamed over PATH. A failure removes the temporary and throws with the path.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>

namespace disa {

void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& write,
                           bool binary = false);

}  // namespace disa
