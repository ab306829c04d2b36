// The CPU device: runs the kernels' own CUDA source (the *_device.cuh files) on the
// host, so that CI, which has no GPU, executes the code the GPU executes rather than a
// transcription of it.
//
// Model. A launch runs its blocks one after another; the threads of a block are fibers
// (cpu_device_fiber.h; one stack each, with a guard page) switched only at the CUDA
// synchronisation points. __syncthreads() and the warp shuffles are barriers that every
// thread of the block (of the warp) must reach: where a GPU would hang or give undefined
// results (a barrier in divergent code, a shuffle some lanes skip, a lane that exits
// while its warp waits) the launch throws CpuDeviceError naming the block, the threads
// and where each stands. Between two barriers the runnable threads run one at a time in
// an order chosen per launch (LaunchOptions: forward, reverse, or a seeded shuffle per
// round): a thread that reads another's shared-memory write without a barrier in between
// sees a different value under a different order, so checkers compare orders.
//
// Checks: indexing, strides, alignment heads and tails, reduction trees, barrier
// placement, and every result against the CPU reference. Does not check: the device's
// floating point (expf/logf are the host's, contraction into FMA differs), the memory
// model, occupancy or speed; those need the GPU run (tests labelled gpu). __shared__
// becomes a function-static (thread_local) variable: shared by the block's fibers, but
// not reset between blocks, so a read of shared memory before any write is not caught.
//
// This header is the launch interface (no macros: safe to include anywhere);
// cpu_device_cuda.h gives kernel source the CUDA names it uses.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

namespace disa::kernels::cpu_device {

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

// The order in which runnable threads run between two barriers.
enum class Order { forward, reverse, shuffled };

struct LaunchOptions {
  Order order = Order::forward;
  std::uint64_t seed = 0;  // Order::shuffled: the permutation of round r of block b is a function of (seed, b, r)
};

// A launch that a GPU would not run to a defined result (see above), or a kernel that threw.
class CpuDeviceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The running fiber's CUDA indices (valid inside a kernel body only). Functions, not
// extern thread_local objects: with those, GCC 12's UBSan at -O2 reported the kernels'
// accesses on fibers as null member accesses (not reproduced outside fibers), and a
// function also keeps the compiler from holding an address across a switch.
const Dim3& thread_index();
const Dim3& block_index();
const Dim3& block_dimensions();
const Dim3& grid_dimensions();

// Runs body() once per thread of every block of grid x block, as described above.
// Throws CpuDeviceError; std::invalid_argument for an empty or too large block
// (more than 1024 threads, as CUDA).
void run(Dim3 grid, Dim3 block, const LaunchOptions& options, const std::function<void()>& body);

// Launches run on this OS thread so far (for tests that must know a kernel ran).
std::uint64_t launch_count();

// kernel<<<grid, block>>>(args...) on the CPU device.
template <class... Params, class... Args>
void launch(void (*kernel)(Params...), Dim3 grid, Dim3 block, const LaunchOptions& options, Args&&... args) {
  run(grid, block, options, [&] { kernel(args...); });
}

// The synchronisation points (called through the CUDA names below).
void sync_threads();
// Writes `size` bytes of this lane's value, waits for the warp's lanes, and copies lane
// `source`'s value into `out` (this lane's own when `source` is outside the warp).
void warp_exchange(unsigned mask, const void* value, void* out, std::size_t size, unsigned source);
// This thread's lane (0-31) within its warp.
unsigned lane_id();

}  // namespace disa::kernels::cpu_device

