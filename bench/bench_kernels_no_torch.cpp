// bench_kernels without LibTorch: the eager side-by-side is not built.
#include <cstdint>
#include <cstdio>

namespace disa::bench {

void bench_torch_eager(std::int64_t, std::int64_t, int, double, double) {
  std::printf("torch eager: not built (configured without LibTorch): skipped\n");
}

}  // namespace disa::bench
