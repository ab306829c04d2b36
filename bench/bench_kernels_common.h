// Shared by the kernel benchmarks (bench_kernels*.cpp): flags, device facts, CUDA-event
// timing, the one-line report format and the validation's output poisoning.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
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

// What a kernel's GB/s is read against: the theoretical peak and a device-to-device copy
// measured in the same run (bytes/s). The peak is never reached (copies get ~90% of it on
// A100/H100, by how much varies per part and clock), so the fraction of the copy is the
// one that says how much of the reachable bandwidth a kernel leaves unused.
struct Bandwidths {
  double peak = 0, copy = 0;
};

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

// "name  1.234 ms  2950.1 GB/s  88.0% of theoretical peak  97.5% of measured copy"
// (columns only ever added at the end: bench/RESULTS.md says how to read them).
inline void report(const std::string& name, double ms, double bytes, const Bandwidths& bw) {
  const double bytes_per_s = bytes / (ms * 1e-3);
  std::printf("%-46s %9.3f ms %9.1f GB/s %6.1f%% of theoretical peak %6.1f%% of measured copy\n", name.c_str(), ms,
              bytes_per_s / 1e9, 100.0 * bytes_per_s / bw.peak, 100.0 * bytes_per_s / bw.copy);
  std::fflush(stdout);
}

// One cudaMemcpy device to device of `size` bytes (2 GiB: far past the 50 MB L2), timed as
// the kernels are; its bytes are 2 x size (read and written), as the kernels' formulas
// count. Halves the size while the allocation fails (a smaller or busier device). Prints
// its report line (100% of measured copy by definition) and returns bytes/s.
inline double measure_copy_bandwidth(int reps, double peak, std::size_t size = std::size_t(2) << 30) {
  void *src = nullptr, *dst = nullptr;
  for (;; size /= 2) {
    if (size < (std::size_t(64) << 20)) cuda_fail(cudaErrorMemoryAllocation, "copy bandwidth buffers");
    const bool have_src = cudaMalloc(&src, size) == cudaSuccess;
    if (have_src && cudaMalloc(&dst, size) == cudaSuccess) break;
    if (have_src) cudaFree(src);
    cudaGetLastError();  // the failed allocation's error must not reach the next check
  }
  cuda_check(cudaMemset(src, 0, size), "cudaMemset");
  const double ms = time_ms(
      [&] { cuda_check(cudaMemcpyAsync(dst, src, size, cudaMemcpyDeviceToDevice, nullptr), "copy bandwidth"); }, reps);
  cudaFree(src);
  cudaFree(dst);
  const double bytes = 2.0 * double(size), copy = bytes / (ms * 1e-3);
  char name[64];
  std::snprintf(name, sizeof name, "copy %.2f GiB device to device (cudaMemcpy)", double(size) / double(1 << 30));
  report(name, ms, bytes, Bandwidths{peak, copy});
  return copy;
}

// Every output buffer is filled with 0xFF bytes before a validation launch: NaN in fp32,
// fp64 and bf16, -1 as an integer. Fresh cudaMalloc memory often reads as zeros, which the
// tolerances accept for most entries (abs 1e-6 covers 75-88% of dlogits at V = 151936), so
// an element the kernel never writes would pass; as NaN it fails the comparison.
inline void poison(void* p, std::size_t bytes) { cuda_check(cudaMemset(p, 0xFF, bytes), "cudaMemset 0xFF"); }

// The validation verdict line; a failed validation exits 1 before anything is timed.
inline void validated(const std::string& what, int mismatches) {
  std::printf("validate %-37s %s\n", what.c_str(), mismatches == 0 ? "ok" : "FAILED");
  std::fflush(stdout);
  if (mismatches != 0) std::exit(1);
}

}  // namespace disa::bench
