// Shared by the kernel benchmarks (bench_kernels*.cpp): flags, device facts, CUDA-event
// timing and the one-line report format.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

namespace disa::bench {

// bench_kernels' flags (bench_kernels.cpp lists them).
struct KernelBenchOptions {
  std::int64_t rows = 16384, vocab = 151936;
  int reps = 10;
  bool fp32 = false, validate_only = false, torch = true;
  std::int64_t loss_rows = 1024, loss_columns = 4096;
  std::int64_t segments = 10000, segment_size = 10000;
};

[[noreturn]] inline void cuda_fail(cudaError_t e, const char* what) {
  std::fprintf(stderr, "bench_kernels: %s: %s\n", what, cudaGetErrorString(e));
  std::exit(1);
}
inline void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) cuda_fail(e, what);
}

// Theoretical peak DRAM bandwidth in bytes/s: 2 (double data rate) * memory clock *
// bus width / 8, from the device attributes (cudaDeviceProp lost these fields in CUDA 13).
// Theoretical: achievable copy bandwidth is ~90% of it on A100/H100.
inline double peak_bandwidth(int device) {
  int clock_khz = 0, bus_bits = 0;
  cuda_check(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, device), "memory clock");
  cuda_check(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device), "bus width");
  return 2.0 * double(clock_khz) * 1e3 * double(bus_bits) / 8.0;
}

// Median-free simple timing: one warm-up call, then `reps` calls between two events;
// returns milliseconds per call.
inline double time_ms(const std::function<void()>& call, int reps, cudaStream_t stream = nullptr) {
  // A launch that fails returns its error without running: checked after the warm-up and
  // after the timed loop, or a bad configuration would time as ~0 ms and absurd GB/s.
  call();
  cuda_check(cudaGetLastError(), "warm-up launch");
  cuda_check(cudaStreamSynchronize(stream), "warm-up");
  cudaEvent_t start, stop;
  cuda_check(cudaEventCreate(&start), "event");
  cuda_check(cudaEventCreate(&stop), "event");
  cuda_check(cudaEventRecord(start, stream), "event record");
  for (int r = 0; r < reps; ++r) call();
  cuda_check(cudaEventRecord(stop, stream), "event record");
  cuda_check(cudaEventSynchronize(stop), "event sync");
  cuda_check(cudaGetLastError(), "timed launches");
  float ms = 0;
  cuda_check(cudaEventElapsedTime(&ms, start, stop), "elapsed");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return double(ms) / reps;
}

// "name  1.234 ms  2950.1 GB/s  88.0% of peak"
inline void report(const std::string& name, double ms, double bytes, double peak) {
  const double gbs = bytes / (ms * 1e-3) / 1e9;
  std::printf("%-46s %9.3f ms %9.1f GB/s %6.1f%% of theoretical peak\n", name.c_str(), ms, gbs,
              100.0 * bytes / (ms * 1e-3) / peak);
  std::fflush(stdout);
}

// The validation verdict line; a failed validation exits 1 before anything is timed.
inline void validated(const std::string& what, int mismatches) {
  std::printf("validate %-37s %s\n", what.c_str(), mismatches == 0 ? "ok" : "FAILED");
  std::fflush(stdout);
  if (mismatches != 0) std::exit(1);
}

}  // namespace disa::bench
