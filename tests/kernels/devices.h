// The two devices every kernel checker runs on, so that one checker body covers both:
//   GpuDevice        CUDA device memory and the *_cuda launchers (tests labelled gpu; SKIPPED
//                    without a GPU, never passed)
//   CpuDeviceRun     host memory and the *_cpu_device launchers: the kernels' own source on
//                    the CPU device (kernels/cpu_device.h), in one thread order (tests
//                    labelled cpu, run in CI)
// Each has Array<T>: a buffer with ok(), get() (pad_front elements in, for a deliberately
// unaligned start) and host() (a copy back). One made from a count (an output) starts as
// 0xFF bytes on both devices (NaN in fp32, fp64 and bf16; -1 as an integer), so that an
// element the kernel never writes fails the comparison instead of passing as a zero.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/cpu_device.h"
#include "tests/kernels/gpu_skip.h"

namespace disa::kernels_test {

template <class T>
class HostArray {
 public:
  // Exactly n + pad_front elements (one when both are 0, for a valid pointer): no slack
  // past the end, so that AddressSanitizer sees a kernel reading one past a row.
  explicit HostArray(std::size_t n, std::size_t pad_front = 0)
      : data_(std::max<std::size_t>(n + pad_front, 1)), n_(n), pad_(pad_front) {
    static_assert(std::is_trivially_copyable_v<T>);
    std::memset(static_cast<void*>(data_.data()), 0xFF, data_.size() * sizeof(T));
  }
  template <class V, class = decltype(std::declval<const V&>().data())>  // a host container, not a count
  explicit HostArray(const V& host, std::size_t pad_front = 0) : HostArray(host.size(), pad_front) {
    std::copy(host.begin(), host.end(), data_.begin() + pad_);
  }
  bool ok() const { return true; }
  T* get() const { return const_cast<T*>(data_.data()) + pad_; }
  std::vector<T> host() const { return std::vector<T>(data_.begin() + pad_, data_.begin() + pad_ + n_); }

 private:
  std::vector<T> data_;
  std::size_t n_, pad_;
};

struct GpuDevice {
  template <class T>
  using Array = DeviceArray<T>;
  std::string name() const { return "gpu"; }
};

struct CpuDeviceRun {
  template <class T>
  using Array = HostArray<T>;
  disa::kernels::cpu_device::LaunchOptions options;
  std::string name() const {
    using disa::kernels::cpu_device::Order;
    return options.order == Order::forward   ? "cpu device, forward order"
           : options.order == Order::reverse ? "cpu device, reverse order"
                                             : "cpu device, shuffled order (seed " + std::to_string(options.seed) + ")";
  }
};

// The orders the CPU-device checkers run: a race between threads that a barrier should
// have ordered gives different results in different orders.
inline std::vector<CpuDeviceRun> cpu_device_orders() {
  using disa::kernels::cpu_device::Order;
  return {CpuDeviceRun{{Order::forward, 0}}, CpuDeviceRun{{Order::reverse, 0}}, CpuDeviceRun{{Order::shuffled, 7}}};
}

}  // namespace disa::kernels_test
