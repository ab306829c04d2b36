// The output folders commands write into (--out DIR): checked before any work is done,
// used by one live process at a time, and cleared of the temporaries a killed run left;
// and the single output files (--out FILE), checked before any work the same way.
// Shared by `disa train`, `disa demo`, `disa check` and the LLM pipeline's stage folders
// (llm/pipeline/stage_files.h), so that there is one definition of each rule.
#pragma once

#include <filesystem>
#include <functional>
#include <string_view>

namespace disa {

// Creates `dir` (and its parents) and makes sure a file can be written in it, before a
// command spends time on work it could not save: a path naming a file, one under a file,
// or a folder that cannot be written (read-only file system, permissions) is an
// InputError naming `option` and the path, e.g. "--out: 'r.json' is a file, not a folder".
void prepare_output_folder(const std::filesystem::path& dir, std::string_view option);

// The same for a single output file written with write_file_atomically (src/atomic_file.h):
// a path naming a folder (or ending in '/'), or something other than a regular file
// (/dev/null: the rename would replace it), is an InputError naming `option` and the path;
// the parent folder is then prepared as above (created when missing, as the writer would;
// refused when it cannot be created or written in). Without this a bad --out failed only
// after the sampling, with exit 1 and the name of the temporary.
void prepare_output_file(const std::filesystem::path& path, std::string_view option);

// An output that is one of the command's inputs: write_file_atomically would rename the
// new content over the input, which is then lost (`disa anchor --samples-file s.jsonl --out
// s.jsonl` exited 0 and left only the anchors). An InputError naming both options and
// paths when `output` is the same file as `input` (std::filesystem::equivalent when both
// exist, so links and "./" spellings are caught; their weakly canonical paths otherwise).
// An empty path or an `input` of "-" (standard input) is never the same file.
void refuse_output_over_input(const std::filesystem::path& output, std::string_view output_option,
                              const std::filesystem::path& input, std::string_view input_option);

// One live run per folder: an advisory lock on DIR/.lock, held until this process exits
// (the kernel drops it when a process dies, so a killed run never blocks its resume).
// Another live process holding it is an InputError naming `who` and the folder. Returns
// whether this process holds the lock: false on a file system without flock (ENOLCK,
// EOPNOTSUPP on some network mounts), where the folder is used without it.
bool lock_output_folder(const std::filesystem::path& dir, std::string_view who);

// A run killed mid-write leaves NAME.tmp-PID beside NAME (src/atomic_file.h). Call only
// while holding the folder's lock (lock_output_folder): then no other process writes
// here, so such a file of another PID is litter and is removed. Looks `max_depth`
// levels of subfolders down (0 = DIR itself only), and not inside a subfolder that has a
// .lock of its own (another run's folder): an --out given by mistake as a parent folder
// must not sweep other programs' files. `owned` (optional) narrows the sweep to the
// temporaries of the files NAME a command itself writes, for commands (demo, check)
// whose --out may be a folder shared with other programs.
void remove_stale_temporaries(const std::filesystem::path& dir, int max_depth,
                              const std::function<bool(std::string_view name)>& owned = {});

}  // namespace disa
