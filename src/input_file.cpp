#include "src/input_file.h"

#include <system_error>

#include <fmt/format.h>

#include "src/input_error.h"

namespace disa {

void refuse_folder_input(const std::filesystem::path& path, std::string_view option) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw InputError(fmt::format("{}: '{}' is a folder, not a file", option, path.string()));
  }
}

void check_read_completed(const std::istream& in, const std::filesystem::path& path, std::string_view option) {
  if (in.bad()) throw InputError(fmt::format("{}: reading '{}' failed before its end", option, path.string()));
}

}  // namespace disa
