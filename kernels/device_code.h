// The first include of every *_device.cuh: CUDA's runtime when nvcc compiles it for the
// GPU, the CPU device's stand-ins for CUDA's names (cpu_device_cuda.h) when the host
// compiler compiles it for the CPU device.
#pragma once

#if defined(__CUDACC__)
#include <cuda_runtime.h>
#else
#include "kernels/cpu_device_cuda.h"
#endif
