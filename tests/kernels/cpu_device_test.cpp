// The CPU device (kernels/cpu_device.h) itself: CUDA's indices for every thread of a 3-D
// launch, __syncthreads ordering, __shfl_down_sync's exact semantics (in range, past
// the warp, partial last warp), a block reduction like the kernels', identical results
// under every thread order for race-free code and different results for a kernel that
// reads shared memory without a barrier, and the errors where a GPU would hang or be
// undefined (a barrier in divergent code, a shuffle some lanes skip, a partial mask, an
// exception in a kernel, bad block sizes).
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

// Last: defines the CUDA names as macros for the test kernels below.
#include "kernels/cpu_device_cuda.h"

namespace {

namespace cd = disa::kernels::cpu_device;
using cd::Dim3;
using cd::LaunchOptions;
using cd::Order;

const std::vector<LaunchOptions> kOrders = {
    {Order::forward, 0}, {Order::reverse, 0}, {Order::shuffled, 1}, {Order::shuffled, 2}, {Order::shuffled, 3}};

__global__ void record_indices(std::uint32_t* out) {
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned threads = blockDim.x * blockDim.y * blockDim.z;
  out[block * threads + thread] = (blockIdx.z << 24) | (blockIdx.y << 20) | (blockIdx.x << 16) |
                                  (threadIdx.z << 8) | (threadIdx.y << 4) | threadIdx.x;
}

TEST(CpuDevice, EveryThreadOfA3DLaunchSeesItsIndices) {
  const Dim3 grid{3, 2, 2}, block{5, 3, 2};
  std::vector<std::uint32_t> out(12 * 30, 0xffffffffu);
  cd::launch(&record_indices, grid, block, {}, out.data());
  std::size_t k = 0;
  for (unsigned bz = 0; bz < 2; ++bz)
    for (unsigned by = 0; by < 2; ++by)
      for (unsigned bx = 0; bx < 3; ++bx)
        for (unsigned tz = 0; tz < 2; ++tz)
          for (unsigned ty = 0; ty < 3; ++ty)
            for (unsigned tx = 0; tx < 5; ++tx, ++k)
              ASSERT_EQ(out[k], (bz << 24) | (by << 20) | (bx << 16) | (tz << 8) | (ty << 4) | tx) << k;
}

// Every thread writes shared[t], a barrier, then reads its neighbour's.
template <bool kBarrier>
__global__ void rotate_through_shared(int* out, int round) {
  __shared__ int sh[256];
  const int t = threadIdx.x, n = blockDim.x;
  sh[t] = round * 1000 + t;
  if (kBarrier) __syncthreads();
  out[t] = sh[(t + 1) % n];
}

TEST(CpuDevice, SyncthreadsOrdersSharedMemoryUnderEveryOrder) {
  for (const LaunchOptions& o : kOrders) {
    std::vector<int> out(256);
    cd::launch(&rotate_through_shared<true>, {1}, {256}, o, out.data(), 7);
    for (int t = 0; t < 256; ++t) ASSERT_EQ(out[t], 7000 + (t + 1) % 256) << "order " << int(o.order) << " t " << t;
  }
}

TEST(CpuDevice, AMissingBarrierShowsAsOrderDependentResults) {
  // Without the barrier a thread may read the neighbour's value from this launch or the
  // last one: forward order reads stale values, reverse order fresh ones.
  std::vector<int> forward(256), reverse(256);
  cd::launch(&rotate_through_shared<false>, {1}, {256}, {Order::forward, 0}, forward.data(), 1);
  cd::launch(&rotate_through_shared<false>, {1}, {256}, {Order::forward, 0}, forward.data(), 2);
  cd::launch(&rotate_through_shared<false>, {1}, {256}, {Order::reverse, 0}, reverse.data(), 2);
  EXPECT_NE(forward, reverse);
  EXPECT_EQ(forward[0], 1001);  // thread 1 had not yet written round 2
  EXPECT_EQ(reverse[0], 2001);
}

__global__ void shuffle_down(const double* in, double* out, unsigned delta) {
  const unsigned t = threadIdx.x;
  const unsigned lanes = blockDim.x - (t / 32) * 32 < 32 ? blockDim.x - (t / 32) * 32 : 32;
  const unsigned mask = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1u;
  out[t] = __shfl_down_sync(mask, in[t], delta);
}

TEST(CpuDevice, ShuffleDownReadsLanePlusDeltaOrKeepsItsOwn) {
  for (unsigned threads : {32u, 64u, 72u}) {  // 72: a last warp of 8 lanes
    for (unsigned delta : {0u, 1u, 5u, 16u, 31u}) {
      std::vector<double> in(threads), out(threads);
      std::iota(in.begin(), in.end(), 0.5);
      cd::launch(&shuffle_down, {1}, {threads}, {Order::shuffled, delta}, in.data(), out.data(), delta);
      for (unsigned t = 0; t < threads; ++t) {
        const unsigned lane = t % 32, warp_lanes = std::min(32u, threads - (t / 32) * 32);
        const double want = lane + delta < warp_lanes ? in[t + delta] : in[t];
        ASSERT_EQ(out[t], want) << "threads " << threads << " delta " << delta << " t " << t;
      }
    }
  }
}

// The kernels' reduction: warp shuffles, one value per warp in shared memory, thread 0 sums.
__global__ void block_sum(const std::int64_t* in, std::int64_t* out) {
  std::int64_t v = in[blockIdx.x * blockDim.x + threadIdx.x];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  __shared__ std::int64_t per_warp[32];
  if (threadIdx.x % 32 == 0) per_warp[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    std::int64_t s = 0;
    for (unsigned w = 0; w < blockDim.x / 32; ++w) s += per_warp[w];
    out[blockIdx.x] = s;
  }
}

TEST(CpuDevice, BlockReductionIsExactForEveryBlockSizeAndOrder) {
  for (unsigned threads : {32u, 128u, 256u, 1024u}) {
    const unsigned blocks = 3;
    std::vector<std::int64_t> in(blocks * threads);
    for (std::size_t i = 0; i < in.size(); ++i) in[i] = std::int64_t(i * i % 1009) - 500;
    for (const LaunchOptions& o : kOrders) {
      std::vector<std::int64_t> out(blocks, -1);
      cd::launch(&block_sum, {blocks}, {threads}, o, in.data(), out.data());
      for (unsigned b = 0; b < blocks; ++b)
        ASSERT_EQ(out[b], std::accumulate(in.begin() + b * threads, in.begin() + (b + 1) * threads, std::int64_t{0}))
            << threads << " threads, block " << b;
    }
  }
}

__global__ void divergent_syncthreads() {
  if (threadIdx.x < 16) __syncthreads();
}

__global__ void divergent_shuffle(int* out) {
  int v = threadIdx.x;
  if (threadIdx.x % 32 < 8) v = __shfl_down_sync(0xffffffffu, v, 1);
  out[threadIdx.x] = v;
}

__global__ void partial_mask(int* out) { out[threadIdx.x] = __shfl_down_sync(0x0000ffffu, int(threadIdx.x), 1); }

__global__ void throws_in_thread_5() {
  __syncthreads();
  if (threadIdx.x == 5 && blockIdx.x == 1) throw std::runtime_error("kernel failure in thread 5");
}

std::string launch_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const cd::CpuDeviceError& e) {
    return e.what();
  }
  return "";
}

TEST(CpuDevice, ABarrierInDivergentCodeIsAnErrorNamingTheThreads) {
  const std::string e = launch_error([] { cd::launch(&divergent_syncthreads, {2}, {64}, {}); });
  EXPECT_NE(e.find("block (0,0,0)"), std::string::npos) << e;
  EXPECT_NE(e.find("threads 0-15 wait at __syncthreads #0; threads 16-63 exited"), std::string::npos) << e;
}

TEST(CpuDevice, AShuffleSomeLanesSkipIsAnError) {
  std::vector<int> out(64);
  const std::string e = launch_error([&] { cd::launch(&divergent_shuffle, {1}, {64}, {}, out.data()); });
  EXPECT_NE(e.find("threads 0-7 wait at warp shuffle #0 of their warp; threads 8-31 exited"), std::string::npos) << e;
}

TEST(CpuDevice, PartialMasksAreRefusedNotGuessed) {
  std::vector<int> out(32);
  const std::string e = launch_error([&] { cd::launch(&partial_mask, {1}, {32}, {}, out.data()); });
  EXPECT_NE(e.find("mask 0xffff"), std::string::npos) << e;
}

TEST(CpuDevice, AnExceptionInAKernelReachesTheLauncher) {
  EXPECT_THROW(
      {
        try {
          cd::launch(&throws_in_thread_5, {2}, {32}, {});
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "kernel failure in thread 5");
          throw;
        }
      },
      std::runtime_error);
  // The device is usable again afterwards.
  std::vector<int> out(256);
  cd::launch(&rotate_through_shared<true>, {1}, {256}, {}, out.data(), 3);
  EXPECT_EQ(out[255], 3000);
}

__global__ void load_vector(const unsigned char* bytes, std::size_t offset, unsigned* out) {
  out[threadIdx.x] = __ldg(reinterpret_cast<const uint4*>(bytes + offset)).x;
}

// A GPU faults on a 16-byte ld.global.nc that is not 16-byte aligned; memcpy, which the
// CPU device's __ldg uses, would load it silently, so the check is its own.
TEST(CpuDevice, AMisalignedVectorLoadIsAnError) {
  alignas(16) unsigned char bytes[48] = {};
  std::vector<unsigned> out(32);
  EXPECT_EQ(launch_error([&] { cd::launch(&load_vector, {1}, {32}, {}, bytes, std::size_t{16}, out.data()); }), "");
  const std::string e =
      launch_error([&] { cd::launch(&load_vector, {1}, {32}, {}, bytes, std::size_t{8}, out.data()); });
  EXPECT_NE(e.find("__ldg: misaligned load of 16 bytes"), std::string::npos) << e;
}

TEST(CpuDevice, BlockSizesOutsideCudasRangeAreRejected) {
  EXPECT_THROW(cd::launch(&divergent_syncthreads, {1}, {0}, {}), std::invalid_argument);
  EXPECT_THROW(cd::launch(&divergent_syncthreads, {1}, {1025}, {}), std::invalid_argument);
  EXPECT_THROW(cd::launch(&divergent_syncthreads, {1}, {32, 32, 2}, {}), std::invalid_argument);
  cd::launch(&divergent_syncthreads, {0}, {64}, {});  // an empty grid runs nothing
}

}  // namespace
