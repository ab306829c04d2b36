// The GPU checkers' guard: without a usable device (no driver, no GPU) a test reports
// SKIPPED via GTEST_SKIP, never passed. Use as the first statement of a TEST:
//   DISA_SKIP_WITHOUT_GPU();
#pragma once

#include <cuda_runtime_api.h>

#include <gtest/gtest.h>

#include <utility>
#include <vector>

#define DISA_SKIP_WITHOUT_GPU()                                                                               \
  do {                                                                                                        \
    int disa_device_count = 0;                                                                                \
    const cudaError_t disa_err = cudaGetDeviceCount(&disa_device_count);                                      \
    if (disa_err != cudaSuccess || disa_device_count == 0) {                                                  \
      GTEST_SKIP() << "no usable GPU: cudaGetDeviceCount returned " << static_cast<int>(disa_err) << " ("     \
                   << cudaGetErrorString(disa_err) << "), " << disa_device_count << " device(s)";             \
    }                                                                                                         \
  } while (0)

// Device buffer for tests: allocated, filled from / read back to host vectors. One made
// from a count (an output) starts as 0xFF bytes: NaN in fp32, fp64 and bf16, -1 as an
// integer. Fresh cudaMalloc memory often reads as zeros, which the tolerances accept for
// most entries (abs 1e-6 covers 75-88% of dlogits at V = 151936), so an element a kernel
// never writes would pass; as NaN it fails the comparison.
template <class T>
class DeviceArray {
 public:
  explicit DeviceArray(std::size_t n, std::size_t pad_front = 0) : n_(n), pad_(pad_front) {
    const std::size_t bytes = (n + pad_front + 1) * sizeof(T);
    if (cudaMalloc(reinterpret_cast<void**>(&base_), bytes) != cudaSuccess ||
        cudaMemset(base_, 0xFF, bytes) != cudaSuccess) {
      cudaFree(base_);
      base_ = nullptr;
    }
  }
  template <class V, class = decltype(std::declval<const V&>().data())>  // a host container, not a count
  explicit DeviceArray(const V& host, std::size_t pad_front = 0) : DeviceArray(host.size(), pad_front) {
    if (base_ && n_) cudaMemcpy(get(), host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice);
  }
  ~DeviceArray() { cudaFree(base_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  bool ok() const { return base_ != nullptr; }
  T* get() const { return base_ + pad_; }  // pad_front elements in: a deliberately unaligned start
  std::vector<T> host() const {
    std::vector<T> h(n_);
    if (n_) cudaMemcpy(h.data(), get(), n_ * sizeof(T), cudaMemcpyDeviceToHost);
    return h;
  }

 private:
  T* base_ = nullptr;
  std::size_t n_, pad_;
};
