// bench_kernels without LibTorch: the eager side-by-side is not built.
#include <cstdint>
#include <cstdio>

#include "bench/bench_kernels_common.h"

namespace disa::bench {

void bench_torch_eager(std::int64_t, std::int64_t, int, const Bandwidths&, double) {
  std::printf("torch eager: not built (configured without LibTorch): skipped\n");
}

}  // namespace disa::bench
