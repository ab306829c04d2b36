// FiberContext (cpu_device_fiber.h).
#include "kernels/cpu_device_fiber.h"

#include <cstdint>
#include <cstring>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#if !DISA_FIBER_UCONTEXT
// disa_fiber_switch(save, next): pushes the callee-saved registers and MXCSR / the x87
// control word on the running stack, stores the stack pointer in *save, loads `next`,
// and pops the same layout from it. The SysV ABI requires nothing else to survive a call.
extern "C" void disa_fiber_switch(void** save, void* next);
asm(R"(
    .text
    .p2align 4
    .globl disa_fiber_switch
    .hidden disa_fiber_switch
    .type disa_fiber_switch, @function
disa_fiber_switch:
    endbr64
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size disa_fiber_switch, .-disa_fiber_switch
)");
#endif

namespace disa::kernels::cpu_device {
namespace {

// A reused stack still carries the shadow of the frames its last fiber left (a fiber that
// exits never returns, so its frames are never unpoisoned).
void forget_old_frames(void* stack, std::size_t bytes) {
#if defined(__SANITIZE_ADDRESS__)
  __asan_unpoison_memory_region(stack, bytes);
#else
  (void)stack;
  (void)bytes;
#endif
}

}  // namespace

#if DISA_FIBER_UCONTEXT

void FiberContext::prepare(void* stack, std::size_t bytes, void (*entry)()) {
  forget_old_frames(stack, bytes);
  getcontext(&context_);
  context_.uc_stack.ss_sp = stack;
  context_.uc_stack.ss_size = bytes;
  context_.uc_link = nullptr;
  makecontext(&context_, entry, 0);
}

void FiberContext::switch_to(FiberContext& from, FiberContext& to) { swapcontext(&from.context_, &to.context_); }

#else

void FiberContext::prepare(void* stack, std::size_t bytes, void (*entry)()) {
  forget_old_frames(stack, bytes);
  // The frame disa_fiber_switch pops, from the top of the stack down: a null return
  // address for entry (unwinders stop there), entry itself (the `ret` target: entry
  // then starts with the stack pointer at 8 mod 16, as after a call), six callee-saved
  // registers, and the control words (the current ones).
  auto* top = reinterpret_cast<std::uintptr_t*>(static_cast<char*>(stack) + bytes);
  std::uintptr_t* p = top;
  *--p = 0;
  *--p = reinterpret_cast<std::uintptr_t>(entry);
  for (int i = 0; i < 6; ++i) *--p = 0;
  std::uint32_t mxcsr = 0;
  std::uint16_t fpu_control = 0;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpu_control));
  --p;
  std::memcpy(p, &mxcsr, 4);
  std::memcpy(reinterpret_cast<char*>(p) + 4, &fpu_control, 2);
  stack_pointer_ = p;
}

void FiberContext::switch_to(FiberContext& from, FiberContext& to) {
  disa_fiber_switch(&from.stack_pointer_, to.stack_pointer_);
}

#endif

}  // namespace disa::kernels::cpu_device
