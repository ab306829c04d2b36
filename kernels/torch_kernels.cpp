// torch::Tensor glue of the kernels; see torch_kernels.h.
#include "kernels/torch_kernels.h"

#include <torch/autograd.h>

#include <cuda_runtime_api.h>

#include <initializer_list>
#include <string>
#include <type_traits>

// Debian's CPU-only libtorch ships c10/cuda/CUDAStream.h but not the generated
// c10/cuda/impl/cuda_cmake_macros.h it needs, so both are tested. (c10's stream and guard
// headers need only the CUDA runtime's; ATen/cuda/CUDAContext.h would pull in cuBLAS,
// cuSPARSE and cuSOLVER headers too.) The GPU build (kernels/standalone) defines
// DISA_REQUIRE_TORCH_CUDA_STREAM: there a missing header must stop the build, not put
// the kernels on the legacy stream, unordered against PyTorch's non-blocking streams.
#if __has_include(<c10/cuda/CUDAStream.h>) && __has_include(<c10/cuda/CUDAGuard.h>) && \
    __has_include(<c10/cuda/impl/cuda_cmake_macros.h>)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#define DISA_TORCH_CUDA_STREAM 1
#elif defined(DISA_REQUIRE_TORCH_CUDA_STREAM)
#error "this LibTorch has no usable c10/cuda/CUDAStream.h: the kernels could not run on PyTorch's current stream"
#endif

#include "kernels/log_z_hat.h"
#include "kernels/loss_heads.h"
#include "kernels/token_logprobs.h"
#include "src/input_error.h"

namespace disa::kernels {
namespace {

using torch::Tensor;

// PyTorch's current stream on `device` (the tensors' device, not the current one).
cudaStream_t current_stream(const torch::Device& device) {
#if defined(DISA_TORCH_CUDA_STREAM)
  return c10::cuda::getCurrentCUDAStream(device.index()).stream();
#else
  (void)device;
  return nullptr;  // the legacy default stream (CPU-only LibTorch: no CUDA tensor exists anyway)
#endif
}

// Makes the tensors' device current for a launch (a kernel launches on the current
// device: tensors on cuda:1 with cuda:0 current would be foreign pointers there).
class LaunchDevice {
 public:
  explicit LaunchDevice(const Tensor& t) {
#if defined(DISA_TORCH_CUDA_STREAM)
    if (t.is_cuda()) guard_.set_device(t.device());
#else
    (void)t;
#endif
  }

 private:
#if defined(DISA_TORCH_CUDA_STREAM)
  c10::cuda::OptionalCUDAGuard guard_;
#endif
};

// The innermost live CpuDeviceScope's options on this thread; null when there is none.
thread_local const cpu_device::LaunchOptions* cpu_device_options = nullptr;

// A tensor the kernels can take: on a CUDA device, or on the CPU inside a CpuDeviceScope.
void require_kernel_device(const char* what, const Tensor& t) {
  if (!t.defined()) throw InputError(std::string("disa::kernels::") + what + ": a required tensor is undefined");
  if (t.is_cuda() || (t.is_cpu() && cpu_device_options != nullptr)) return;
  throw InputError(std::string("disa::kernels::") + what + ": tensors must be on a CUDA device, got " +
                   t.device().str() +
                   (t.is_cpu() ? " (CPU tensors run on the CPU device only inside a CpuDeviceScope)" : ""));
}

void require_same_device(const char* what, const Tensor& t, const Tensor& first) {
  require_kernel_device(what, t);
  if (t.device() != first.device())
    throw InputError(std::string("disa::kernels::") + what + ": tensors on " + t.device().str() + " and " +
                     first.device().str() + "; all must be on one device");
}

void check_launch(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("disa::kernels::") + what + ": launch failed: " + cudaGetErrorString(e));
}

// N x V view of contiguous logits and the flat targets, with the host-side target check.
struct Rows {
  Tensor logits, target;
  std::int64_t N, V;
};

// check_ids: whether to look for an out-of-range target id. The check reads a flag back
// from the device (one host-device synchronisation); the autograd backward skips it, as
// its forward already checked the same saved target.
Rows rows_of(const char* what, const Tensor& logits, const Tensor& target, bool check_ids = true) {
  require_kernel_device(what, logits);
  require_same_device(what, target, logits);
  if (logits.dim() < 1) throw InputError(std::string("disa::kernels::") + what + ": logits must be [..., V]");
  const auto st = logits.scalar_type();
  if (st != torch::kFloat32 && st != torch::kBFloat16)
    throw InputError(std::string("disa::kernels::") + what + ": logits must be float32 or bfloat16, got " +
                     c10::toString(st));
  if (!c10::isIntegralType(target.scalar_type(), /*includeBool=*/false))
    throw InputError(std::string("disa::kernels::") + what + ": target must be an integer tensor");
  const std::int64_t V = logits.size(-1);
  const std::int64_t N = V == 0 ? 0 : logits.numel() / V;
  if (V == 0) throw InputError(std::string("disa::kernels::") + what + ": logits have V = 0 columns");
  if (target.numel() != N || target.sizes() != logits.sizes().slice(0, logits.dim() - 1))
    throw InputError(std::string("disa::kernels::") + what + ": target must have logits' shape without the last axis");
  Tensor t = target.to(torch::kInt64).contiguous().view({N});
  // The kernel writes NaN for an out-of-range id; here it is an error naming the first one
  // (found only once one is known to exist: nonzero synchronises and allocates).
  if (check_ids && N > 0 && ((t < 0) | (t >= V)).any().item<bool>()) {
    const Tensor bad = ((t < 0) | (t >= V)).nonzero();
    const std::int64_t i = bad[0][0].item<std::int64_t>();
    throw InputError(std::string("disa::kernels::") + what + ": target[" + std::to_string(i) + "] = " +
                     std::to_string(t[i].item<std::int64_t>()) + " is outside [0, " + std::to_string(V) + ")");
  }
  return {logits.contiguous().view({N, V}), t, N, V};
}

template <class Elem>
Elem* elements(const Tensor& t) {
  if constexpr (std::is_same_v<Elem, bf16>) {
    return static_cast<bf16*>(t.data_ptr());  // at::BFloat16 has bf16's layout
  } else {
    return t.data_ptr<Elem>();
  }
}

template <class Elem>
void launch_forward(const Rows& r, float* logp, float* lse, float* entropy) {
  const Elem* x = elements<Elem>(r.logits);
  const std::int64_t* t = r.target.data_ptr<std::int64_t>();
  if (r.logits.is_cuda()) {
    const LaunchDevice on(r.logits);
    check_launch(token_logprobs_cuda(x, t, r.N, r.V, logp, lse, entropy, current_stream(r.logits.device())),
                 "token_logprobs");
  } else {
    token_logprobs_cpu_device(x, t, r.N, r.V, logp, lse, entropy, *cpu_device_options);
  }
}

template <class Elem>
void launch_backward(const Rows& r, const Tensor& lse, const Tensor& logp, const Tensor& grad_logp, const Tensor& dst) {
  const Elem* x = elements<Elem>(r.logits);
  const std::int64_t* t = r.target.data_ptr<std::int64_t>();
  const float* l = lse.data_ptr<float>();
  const float* lp = logp.data_ptr<float>();
  const float* g = grad_logp.data_ptr<float>();
  if (r.logits.is_cuda()) {
    const LaunchDevice on(r.logits);
    check_launch(
        token_logprobs_backward_cuda(x, t, l, lp, g, r.N, r.V, elements<Elem>(dst), current_stream(r.logits.device())),
        "token_logprobs_backward");
  } else {
    token_logprobs_backward_cpu_device(x, t, l, lp, g, r.N, r.V, elements<Elem>(dst), *cpu_device_options);
  }
}

}  // namespace

CpuDeviceScope::CpuDeviceScope(cpu_device::LaunchOptions options)
    : options_(options), previous_(cpu_device_options) {
  cpu_device_options = &options_;
}
CpuDeviceScope::~CpuDeviceScope() { cpu_device_options = previous_; }
bool CpuDeviceScope::active() { return cpu_device_options != nullptr; }

TokenLogprobsResult token_logprobs(const Tensor& logits, const Tensor& target, bool with_entropy) {
  const Rows r = rows_of("token_logprobs", logits, target);
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(logits.device());
  TokenLogprobsResult out{torch::empty({r.N}, f32), torch::empty({r.N}, f32),
                          with_entropy ? torch::empty({r.N}, f32) : Tensor()};
  float* ent = with_entropy ? out.entropy.data_ptr<float>() : nullptr;
  if (r.logits.scalar_type() == torch::kBFloat16) {
    launch_forward<bf16>(r, out.logp.data_ptr<float>(), out.lse.data_ptr<float>(), ent);
  } else {
    launch_forward<float>(r, out.logp.data_ptr<float>(), out.lse.data_ptr<float>(), ent);
  }
  const auto shape = target.sizes();
  out.logp = out.logp.view(shape);
  out.lse = out.lse.view(shape);
  if (with_entropy) out.entropy = out.entropy.view(shape);
  return out;
}

namespace {

Tensor backward_checked(const Tensor& logits, const Tensor& target, const Tensor& lse, const Tensor& logp,
                        const Tensor& grad_logp, Tensor out, bool check_ids) {
  const bool in_place = out.defined() && out.is_same(logits);
  if (in_place && !logits.is_contiguous())
    throw InputError("disa::kernels::token_logprobs_backward: in place needs contiguous logits");
  const Rows r = rows_of("token_logprobs_backward", logits, target, check_ids);
  require_same_device("token_logprobs_backward", lse, logits);
  require_same_device("token_logprobs_backward", logp, logits);
  require_same_device("token_logprobs_backward", grad_logp, logits);
  for (const auto& [name, t] :
       {std::pair<const char*, const Tensor*>{"lse", &lse}, {"logp", &logp}, {"grad_logp", &grad_logp}}) {
    if (t->numel() != r.N)
      throw InputError(std::string("disa::kernels::token_logprobs_backward: ") + name + " has " +
                       std::to_string(t->numel()) + " entries, target has " + std::to_string(r.N));
  }
  const Tensor l = lse.to(torch::kFloat32).contiguous();
  const Tensor lp = logp.to(torch::kFloat32).contiguous();
  const Tensor g = grad_logp.to(torch::kFloat32).contiguous();
  Tensor dst;
  if (!out.defined()) {
    dst = torch::empty_like(r.logits);
  } else if (in_place) {
    dst = r.logits;  // a view of the same storage (contiguous)
  } else {
    require_same_device("token_logprobs_backward", out, logits);
    if (out.sizes() != logits.sizes() || out.scalar_type() != logits.scalar_type() || !out.is_contiguous())
      throw InputError("disa::kernels::token_logprobs_backward: out must be contiguous with logits' shape and dtype");
    dst = out.view({r.N, r.V});
  }
  if (r.logits.scalar_type() == torch::kBFloat16) {
    launch_backward<bf16>(r, l, lp, g, dst);
  } else {
    launch_backward<float>(r, l, lp, g, dst);
  }
  return dst.view(logits.sizes());
}

}  // namespace

Tensor token_logprobs_backward(const Tensor& logits, const Tensor& target, const Tensor& lse, const Tensor& logp,
                               const Tensor& grad_logp, Tensor out) {
  return backward_checked(logits, target, lse, logp, grad_logp, std::move(out), /*check_ids=*/true);
}

namespace {

struct TokenLogprobsFunction : torch::autograd::Function<TokenLogprobsFunction> {
  static Tensor forward(torch::autograd::AutogradContext* ctx, const Tensor& logits, const Tensor& target) {
    TokenLogprobsResult r = token_logprobs(logits, target);
    ctx->save_for_backward({logits, target, r.lse, r.logp});
    return r.logp;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    // d log p_t / d x_v = [v == t] - softmax_v: the kernel's g * (softmax - onehot) with
    // g = -(dL/d log p). (Found by the CPU-device test: the sign was missing.)
    return {backward_checked(saved[0], saved[1], saved[2], saved[3], -grad[0], Tensor(), /*check_ids=*/false),
            Tensor()};
  }
};

}  // namespace

Tensor token_logprobs_autograd(const Tensor& logits, const Tensor& target) {
  return TokenLogprobsFunction::apply(logits, target);
}

LogZHatResult log_z_hat(const Tensor& log_w, const Tensor& offset) {
  require_kernel_device("log_z_hat", log_w);
  if (!offset.defined() || offset.dim() != 1 || offset.numel() < 1)
    throw InputError("disa::kernels::log_z_hat: offset must be [S + 1] integers");
  const Tensor x = log_w.to(torch::kFloat64).contiguous().view({-1});
  const Tensor off_host = offset.to(torch::kCPU, torch::kInt64).contiguous();
  const std::int64_t S = off_host.numel() - 1;
  const std::int64_t* o = off_host.data_ptr<std::int64_t>();
  for (std::int64_t s = 0; s < S; ++s) {
    if (o[s] < 0 || o[s] > o[s + 1] || o[s + 1] > x.numel())
      throw InputError("disa::kernels::log_z_hat: offset[" + std::to_string(s) + "..] is not a non-decreasing range "
                       "inside log_w");
  }
  const Tensor off = off_host.to(log_w.device());
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(log_w.device());
  LogZHatResult r{torch::empty({S}, f64), torch::empty({S}, f64), torch::empty({S}, f64)};
  Tensor status = torch::empty({S}, torch::TensorOptions().dtype(torch::kInt32).device(log_w.device()));
  if (log_w.is_cuda()) {
    const LaunchDevice on(log_w);
    check_launch(log_z_hat_cuda(x.data_ptr<double>(), off.data_ptr<std::int64_t>(), S, r.log_z_hat.data_ptr<double>(),
                                r.ess.data_ptr<double>(), r.max_weight.data_ptr<double>(), status.data_ptr<int>(),
                                current_stream(log_w.device())),
                 "log_z_hat");
  } else {
    log_z_hat_cpu_device(x.data_ptr<double>(), off.data_ptr<std::int64_t>(), S, r.log_z_hat.data_ptr<double>(),
                         r.ess.data_ptr<double>(), r.max_weight.data_ptr<double>(), status.data_ptr<int>(),
                         *cpu_device_options);
  }
  const Tensor status_host = status.to(torch::kCPU);
  throw_on_bad_status(status_host.data_ptr<int>(), S);
  return r;
}

namespace {

template <class Real>
GpuLossResult run_loss(const disa::loss::Objective& objective, const Tensor& logp, const Tensor& logp_old,
                       const Tensor& logp_ref, const Tensor& mask, const Tensor& reward, const Tensor& group,
                       const Tensor& log_z, const Tensor& advantages) {
  constexpr auto dtype = c10::CppTypeToScalarType<Real>::value;
  const std::int64_t B = logp.size(0), T = logp.size(1);
  auto prep = [&](const Tensor& t, torch::ScalarType st) -> Tensor {
    if (!t.defined()) return t;
    if (t.device() != logp.device()) throw LossFallback("a tensor is not on logp's device");
    return t.detach().to(st).contiguous();
  };
  const Tensor lp = prep(logp, dtype), lo = prep(logp_old, dtype), lr = prep(logp_ref, dtype), m = prep(mask, dtype),
               rw = prep(reward, dtype), gr = prep(group, torch::kInt64), lz = prep(log_z, dtype),
               adv = prep(advantages, dtype);
  auto ptr = [](const Tensor& t) -> const Real* { return t.defined() ? t.data_ptr<Real>() : nullptr; };
  DeviceLossBatch<Real> batch;
  batch.rows = static_cast<std::size_t>(B);
  batch.columns = static_cast<std::size_t>(T);
  batch.logp = ptr(lp);
  batch.logp_old = ptr(lo);
  batch.logp_ref = ptr(lr);
  batch.mask = ptr(m);
  batch.reward = ptr(rw);
  batch.log_z = ptr(lz);
  batch.group = gr.defined() ? gr.data_ptr<std::int64_t>() : nullptr;
  batch.advantages = ptr(adv);
  batch.advantages_size = adv.defined() ? static_cast<std::size_t>(adv.numel()) : 0;
  const auto options = torch::TensorOptions().dtype(dtype).device(logp.device());
  GpuLossResult out;
  out.grad_logp = torch::empty({B, T}, options);
  const bool want_log_z = log_z.defined() && disa::loss::has_log_z_gradient(objective);
  if (want_log_z) out.grad_log_z = torch::empty({B}, options);
  Real* grad_logp = out.grad_logp.template data_ptr<Real>();
  Real* grad_log_z = want_log_z ? out.grad_log_z.template data_ptr<Real>() : nullptr;
  const LaunchDevice on(logp);
  disa::loss::LossResult<Real> r =
      logp.is_cuda()
          ? compute_loss_cuda<Real>(objective, batch, grad_logp, grad_log_z, current_stream(logp.device()))
          : compute_loss_cpu_device<Real>(objective, batch, grad_logp, grad_log_z, *cpu_device_options);
  out.loss = r.loss;
  out.diagnostics = std::move(r.diagnostics);
  return out;
}

}  // namespace

GpuLossResult loss_heads(const disa::loss::Objective& objective, const Tensor& logp, const Tensor& logp_old,
                         const Tensor& logp_ref, const Tensor& mask, const Tensor& reward, const Tensor& group,
                         const Tensor& log_z, const Tensor& advantages) {
  if (!logp.defined() || logp.dim() != 2) throw LossFallback("logp is not a B x T tensor");
  if (!logp.is_cuda() && !(logp.is_cpu() && CpuDeviceScope::active()))
    throw LossFallback("logp is not on a CUDA device (nor on the CPU inside a CpuDeviceScope)");
  // The kernel reads every field at the batch's sizes: a wrong one would be read out of bounds.
  const std::int64_t B = logp.size(0), T = logp.size(1);
  const auto check_size = [&](const char* name, const Tensor& t, std::initializer_list<std::int64_t> allowed) {
    if (!t.defined()) return;
    for (std::int64_t n : allowed) {
      if (t.numel() == n) return;
    }
    std::string want;
    for (std::int64_t n : allowed) want += (want.empty() ? "" : " or ") + std::to_string(n);
    throw InputError(std::string("disa::kernels::loss_heads: ") + name + " has " + std::to_string(t.numel()) +
                     " entries; logp is " + std::to_string(B) + " x " + std::to_string(T) + ", so it needs " + want);
  };
  check_size("logp_old", logp_old, {B * T});
  check_size("logp_ref", logp_ref, {B * T});
  check_size("mask", mask, {B * T});
  check_size("reward", reward, {B});
  check_size("group", group, {B});
  check_size("log_z", log_z, {B});
  check_size("advantages", advantages, {B, B * T});
  if (logp.scalar_type() == torch::kFloat64)
    return run_loss<double>(objective, logp, logp_old, logp_ref, mask, reward, group, log_z, advantages);
  if (logp.scalar_type() == torch::kFloat32)
    return run_loss<float>(objective, logp, logp_old, logp_ref, mask, reward, group, log_z, advantages);
  throw LossFallback("logp is neither float32 nor float64");
}

}  // namespace disa::kernels
