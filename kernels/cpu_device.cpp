// The CPU device's scheduler (cpu_device.h): fibers (cpu_device_fiber.h), barrier bookkeeping,
// and the errors a GPU would turn into a hang or undefined results.
#include "kernels/cpu_device.h"
#include "kernels/cpu_device_fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <exception>
#include <memory>
#include <numeric>
#include <sstream>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define DISA_FIBER_ASAN 1
#endif

namespace disa::kernels::cpu_device {

namespace {
thread_local Dim3 thread_idx, block_idx, block_dim, grid_dim;
thread_local std::uint64_t launches = 0;
}  // namespace
const Dim3& thread_index() { return thread_idx; }
const Dim3& block_index() { return block_idx; }
const Dim3& block_dimensions() { return block_dim; }
const Dim3& grid_dimensions() { return grid_dim; }
std::uint64_t launch_count() { return launches; }

namespace {

constexpr unsigned kWarp = 32;
constexpr std::size_t kStackBytes = 256 * 1024;  // device code keeps small frames; ASan's redzones need room

enum class State { runnable, at_syncthreads, at_shuffle, exited };

struct Fiber {
  FiberContext context;
  State state = State::runnable;
  unsigned linear = 0;          // threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)
  Dim3 index;
  std::uint64_t syncthreads = 0;  // barriers passed, to name where a thread stands
  std::uint64_t shuffles = 0;
  unsigned mask = 0;            // the mask of the shuffle it waits at
  void* stack = nullptr;
#if DISA_FIBER_ASAN
  void* fake_stack = nullptr;
#endif
};

// The stacks of one block's fibers: one mapping, a PROT_NONE guard page below each stack,
// so an overflow faults instead of corrupting the neighbour.
class Stacks {
 public:
  explicit Stacks(std::size_t count) : page_(static_cast<std::size_t>(sysconf(_SC_PAGESIZE))), count_(count) {
    bytes_ = count_ * (kStackBytes + page_);
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw CpuDeviceError("cpu device: cannot map " + std::to_string(bytes_) + " bytes of stacks");
    base_ = static_cast<char*>(p);
    for (std::size_t i = 0; i < count_; ++i) mprotect(base_ + i * (kStackBytes + page_), page_, PROT_NONE);
  }
  ~Stacks() { munmap(base_, bytes_); }
  Stacks(const Stacks&) = delete;
  Stacks& operator=(const Stacks&) = delete;
  void* stack(std::size_t i) const { return base_ + i * (kStackBytes + page_) + page_; }
  std::size_t count() const { return count_; }

 private:
  std::size_t page_, count_, bytes_ = 0;
  char* base_ = nullptr;
};

// splitmix64: the shuffled order of a round is a function of (seed, block, round) only.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::string describe(const Dim3& d) {
  std::ostringstream s;
  s << '(' << d.x << ',' << d.y << ',' << d.z << ')';
  return s.str();
}

class Block;
thread_local Block* current_block = nullptr;

class Block {
 public:
  Block(std::vector<Fiber>& fibers, const std::function<void()>& body, const LaunchOptions& options,
        std::uint64_t block_number)
      : fibers_(fibers), body_(body), options_(options), block_number_(block_number) {}

  // Runs every fiber to the end; throws CpuDeviceError on a deadlock or a kernel exception.
  void run() {
    current_block = this;
    for (Fiber& f : fibers_) {
      f.state = State::runnable;
      f.syncthreads = f.shuffles = 0;
      f.context.prepare(f.stack, kStackBytes, &Block::entry);
    }
    std::vector<std::size_t> order(fibers_.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    if (options_.order == Order::reverse) std::reverse(order.begin(), order.end());
    for (std::uint64_t round = 0;; ++round) {
      if (options_.order == Order::shuffled) shuffle(order, round);
      for (std::size_t i : order) {
        if (fibers_[i].state == State::runnable) resume(i);
        if (error_) break;
      }
      if (error_) break;
      if (std::all_of(fibers_.begin(), fibers_.end(), [](const Fiber& f) { return f.state == State::exited; })) break;
      if (!release()) {
        error_ = std::make_exception_ptr(CpuDeviceError(deadlock_message()));
        break;
      }
    }
    current_block = nullptr;
    // Fibers left suspended (after an error) are abandoned with their stacks: nothing on
    // them owns memory the kernels allocate (device code does not allocate).
    if (error_) std::rethrow_exception(error_);
  }

  Fiber& running() { return fibers_[running_]; }

  // Called on a fiber: back to the scheduler until released.
  void block_on(State s) {
    Fiber& f = running();
    f.state = s;
    switch_to_scheduler(f, false);
  }

  // Lane values of the shuffles in flight, double-buffered by the shuffle's parity: a
  // lane can write shuffle k + 1 while slower lanes still read shuffle k, and no lane
  // writes shuffle k + 2 before every lane has arrived at k + 1 (so has read k).
  unsigned char* slot(unsigned warp, std::uint64_t shuffle, unsigned lane) {
    return exchange_.data() + ((warp * 2 + shuffle % 2) * kWarp + lane) * 8;
  }
  void size_exchange() { exchange_.assign(((fibers_.size() + kWarp - 1) / kWarp) * 2 * kWarp * 8, 0); }

 private:
  static void entry() {
    Block* b = current_block;
    Fiber& f = b->running();
#if DISA_FIBER_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &b->scheduler_stack_bottom_, &b->scheduler_stack_size_);
#endif
    try {
      b->body_();
    } catch (...) {
      if (!b->error_) b->error_ = std::current_exception();
    }
    f.state = State::exited;
    b->switch_to_scheduler(f, true);
  }

  void switch_to_scheduler(Fiber& f, bool exiting) {
#if DISA_FIBER_ASAN
    __sanitizer_start_switch_fiber(exiting ? nullptr : &f.fake_stack, scheduler_stack_bottom_, scheduler_stack_size_);
#else
    (void)exiting;
#endif
    FiberContext::switch_to(f.context, scheduler_);
#if DISA_FIBER_ASAN
    __sanitizer_finish_switch_fiber(f.fake_stack, nullptr, nullptr);
#endif
  }

  void resume(std::size_t i) {
    running_ = i;
    Fiber& f = fibers_[i];
    thread_idx = f.index;
#if DISA_FIBER_ASAN
    void* fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, f.stack, kStackBytes);
#endif
    FiberContext::switch_to(scheduler_, f.context);
#if DISA_FIBER_ASAN
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
  }

  void shuffle(std::vector<std::size_t>& order, std::uint64_t round) const {
    const std::uint64_t key = mix(mix(options_.seed ^ mix(block_number_)) ^ round);
    for (std::size_t i = order.size(); i > 1; --i) {
      const std::size_t j = mix(key + i) % i;
      std::swap(order[i - 1], order[j]);
    }
  }

  // Releases the warps whose lanes all wait at one shuffle, else the block when every
  // thread waits at __syncthreads. False when nothing can move: a deadlock on a GPU.
  bool release() {
    bool released = false;
    const std::size_t n = fibers_.size();
    for (std::size_t w = 0; w * kWarp < n; ++w) {
      const std::size_t begin = w * kWarp, end = std::min(n, begin + kWarp);
      bool all = true;
      for (std::size_t i = begin; i < end; ++i) {
        const Fiber& f = fibers_[i];
        all = all && f.state == State::at_shuffle && f.shuffles == fibers_[begin].shuffles;
      }
      if (!all) continue;
      const unsigned lanes = static_cast<unsigned>(end - begin);
      const unsigned want = lanes == kWarp ? 0xffffffffu : ((1u << lanes) - 1u);
      for (std::size_t i = begin; i < end; ++i) {
        if (fibers_[i].mask != want) {
          std::ostringstream m;
          m << "cpu device: block " << describe(block_idx) << " warp " << w << ": a shuffle with mask 0x" << std::hex
            << fibers_[i].mask << " (lane " << std::dec << (i - begin) << "); only whole-warp masks (0x" << std::hex
            << want << ") are emulated";
          error_ = std::make_exception_ptr(CpuDeviceError(m.str()));
          return true;  // run() stops on error_
        }
      }
      for (std::size_t i = begin; i < end; ++i) {
        fibers_[i].state = State::runnable;
        ++fibers_[i].shuffles;
      }
      released = true;
    }
    if (released) return true;
    if (std::all_of(fibers_.begin(), fibers_.end(), [](const Fiber& f) { return f.state == State::at_syncthreads; })) {
      for (Fiber& f : fibers_) {
        f.state = State::runnable;
        ++f.syncthreads;
      }
      return true;
    }
    return false;
  }

  // Groups consecutive threads by where they stand: "threads 0-31 at shuffle #4 of
  // their warp, threads 32-255 at __syncthreads #0, threads 256-299 exited".
  std::string deadlock_message() const {
    auto where = [](const Fiber& f) -> std::string {
      switch (f.state) {
        case State::at_syncthreads:
          return "wait at __syncthreads #" + std::to_string(f.syncthreads);
        case State::at_shuffle:
          return "wait at warp shuffle #" + std::to_string(f.shuffles) + " of their warp";
        case State::exited:
          return "exited";
        default:
          return "runnable";
      }
    };
    std::ostringstream m;
    m << "cpu device: block " << describe(block_idx)
      << " cannot continue (on a GPU: a hang or undefined results; every thread of a block must reach the same "
         "__syncthreads, every lane of a warp the same shuffle): ";
    std::size_t i = 0;
    bool first = true;
    while (i < fibers_.size()) {
      std::size_t j = i;
      const std::string w = where(fibers_[i]);
      while (j + 1 < fibers_.size() && where(fibers_[j + 1]) == w) ++j;
      m << (first ? "" : "; ") << "threads " << i;
      if (j > i) m << '-' << j;
      m << ' ' << w;
      first = false;
      i = j + 1;
    }
    return m.str();
  }

  std::vector<Fiber>& fibers_;
  const std::function<void()>& body_;
  const LaunchOptions& options_;
  std::uint64_t block_number_;
  std::size_t running_ = 0;
  FiberContext scheduler_;
  std::exception_ptr error_;
  std::vector<unsigned char> exchange_;
#if DISA_FIBER_ASAN
  const void* scheduler_stack_bottom_ = nullptr;
  std::size_t scheduler_stack_size_ = 0;
#endif
};

}  // namespace

void run(Dim3 grid, Dim3 block, const LaunchOptions& options, const std::function<void()>& body) {
  if (current_block != nullptr) throw CpuDeviceError("cpu device: a launch from inside a kernel (not emulated)");
  const std::uint64_t threads = std::uint64_t(block.x) * block.y * block.z;
  if (threads == 0 || threads > 1024)
    throw std::invalid_argument("cpu device: block of " + std::to_string(threads) +
                                " threads (blockDim " + describe(block) + "); CUDA allows 1 to 1024");
  ++launches;
  const std::uint64_t blocks = std::uint64_t(grid.x) * grid.y * grid.z;
  if (blocks == 0) return;
  // Kept per OS thread across launches: mapping and first-touching fresh stacks for
  // every launch cost more than the kernels the checkers run.
  thread_local std::unique_ptr<Stacks> cached;
  if (!cached || cached->count() < threads) cached = std::make_unique<Stacks>(threads);
  const Stacks& stacks = *cached;
  std::vector<Fiber> fibers(threads);
  for (unsigned z = 0, i = 0; z < block.z; ++z) {
    for (unsigned y = 0; y < block.y; ++y) {
      for (unsigned x = 0; x < block.x; ++x, ++i) {
        fibers[i].index = Dim3{x, y, z};
        fibers[i].linear = i;
        fibers[i].stack = stacks.stack(i);
      }
    }
  }
  block_dim = block;
  grid_dim = grid;
  std::uint64_t number = 0;
  for (unsigned z = 0; z < grid.z; ++z) {
    for (unsigned y = 0; y < grid.y; ++y) {
      for (unsigned x = 0; x < grid.x; ++x, ++number) {
        block_idx = Dim3{x, y, z};
        Block b(fibers, body, options, number);
        b.size_exchange();
        b.run();
      }
    }
  }
}

void sync_threads() {
  if (current_block == nullptr) throw CpuDeviceError("cpu device: __syncthreads outside a kernel");
  current_block->block_on(State::at_syncthreads);
}

unsigned lane_id() {
  if (current_block == nullptr) throw CpuDeviceError("cpu device: a warp operation outside a kernel");
  return current_block->running().linear % kWarp;
}

void warp_exchange(unsigned mask, const void* value, void* out, std::size_t size, unsigned source) {
  if (current_block == nullptr) throw CpuDeviceError("cpu device: a warp shuffle outside a kernel");
  Block& b = *current_block;
  Fiber& f = b.running();
  const unsigned warp = f.linear / kWarp, lane = f.linear % kWarp;
  const std::uint64_t k = f.shuffles;
  std::memcpy(b.slot(warp, k, lane), value, size);
  f.mask = mask;
  b.block_on(State::at_shuffle);  // returns when every lane of the warp has written shuffle k
  const std::size_t threads = std::size_t(block_dim.x) * block_dim.y * block_dim.z;
  const std::size_t lanes_in_warp = std::min<std::size_t>(kWarp, threads - warp * kWarp);
  const bool inside = source < lanes_in_warp;
  std::memcpy(out, inside ? b.slot(warp, k, source) : value, size);
}

}  // namespace disa::kernels::cpu_device
