// The CPU device's fibers (cpu_device.h): a saved execution context and the switch
// between two. On x86-64 the switch is eight instructions of assembly saving the
// callee-saved registers and the floating-point control words (ucontext's swapcontext
// also saves the signal mask: two system calls per switch, which made a checker sweep
// take a minute); elsewhere, or with DISA_CPU_DEVICE_UCONTEXT defined, it is ucontext.
#pragma once

#include <cstddef>

#if !defined(__x86_64__) || defined(DISA_CPU_DEVICE_UCONTEXT)
#define DISA_FIBER_UCONTEXT 1
#include <ucontext.h>
#endif

namespace disa::kernels::cpu_device {

class FiberContext {
 public:
  // A context that, when first switched to, runs entry() on [stack, stack + bytes)
  // (stack 16-byte aligned). entry must never return: it switches away for the last time.
  void prepare(void* stack, std::size_t bytes, void (*entry)());
  // Saves the running context in `from` and resumes `to`; returns when something
  // switches back to `from`.
  static void switch_to(FiberContext& from, FiberContext& to);

 private:
#if DISA_FIBER_UCONTEXT
  ucontext_t context_;
#else
  void* stack_pointer_ = nullptr;
#endif
};

}  // namespace disa::kernels::cpu_device
