// Checks for the files commands read (JSONL and JSON inputs, config files): a folder
// opens as a stream on Linux and then reads nothing or fails on its first read, which
// showed as an empty input ("has no lines", "holds no samples", no output at all) or as
// "not JSON" instead of naming the mistake.
#pragma once

#include <filesystem>
#include <istream>
#include <string_view>

namespace disa {

// An InputError "OPTION: 'PATH' is a folder, not a file" when `path` names a folder.
void refuse_folder_input(const std::filesystem::path& path, std::string_view option);

// After reading `in` to its end: a read error (EIO, a folder, a vanished mount) sets
// badbit, and would otherwise pass for the end of the file. An InputError naming
// `option` and `path` then.
void check_read_completed(const std::istream& in, const std::filesystem::path& path, std::string_view option);

}  // namespace disa
