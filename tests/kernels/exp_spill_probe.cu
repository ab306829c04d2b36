// A probe of the toolchain, not a project kernel: the smallest loop around a double
// exp(). tests/kernels/kernel_resources_test.cpp reads ptxas's report of it: where
// ptxas spills registers here (nvcc 13.0 does on sm_90, not on sm_80), a kernel that
// calls exp(double) inherits that spill from the compiler, not from its own code.
#include <math.h>

__global__ void __launch_bounds__(128) exp_spill_probe(const double* a, double* y, long n) {
  for (long i = threadIdx.x; i < n; i += 128) y[i] = exp(a[i]);
}
