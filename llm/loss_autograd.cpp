#include "llm/loss_autograd.h"

#include <torch/autograd.h>
#include <torch/version.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "src/input_error.h"

#if defined(DISA_HAVE_CUDA_KERNELS)  // set by kernels/CMakeLists.txt when the CUDA kernels are built
#include "kernels/loss_heads_plan.h"
#include "kernels/torch_kernels.h"
#endif

namespace disa::llm {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::string shape_text(const Tensor& t) {
  std::string s = "[";
  for (std::int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

[[noreturn]] void bad_shape(const char* field, const Tensor& t, const std::string& want) {
  throw InputError(std::string("disa::llm::loss: ") + field + " has shape " + shape_text(t) + ", expected " + want);
}

void check_matrix(const char* field, const Tensor& t, std::int64_t rows, std::int64_t columns) {
  if (t.defined() && !(t.dim() == 2 && t.size(0) == rows && t.size(1) == columns))
    bad_shape(field, t, "[" + std::to_string(rows) + ", " + std::to_string(columns) + "]");
}

bool is_per_sequence(const Tensor& t, std::int64_t rows) {
  return (t.dim() == 1 && t.size(0) == rows) || (t.dim() == 2 && t.size(0) == rows && t.size(1) == 1);
}

void check_vector(const char* field, const Tensor& t, std::int64_t rows) {
  if (t.defined() && !is_per_sequence(t, rows))
    bad_shape(field, t, "[" + std::to_string(rows) + "] or [" + std::to_string(rows) + ", 1]");
}

void check_shapes(const LossTensors& in) {
  if (!in.logp.defined()) throw InputError("disa::llm::loss: logp is required");
  if (in.logp.dim() != 2) bad_shape("logp", in.logp, "[B, T]");
  const auto st = in.logp.scalar_type();
  if (st != torch::kFloat32 && st != torch::kFloat64)
    throw InputError(std::string("disa::llm::loss: logp has dtype ") + c10::toString(st) +
                     ", expected float32 or float64");
  const std::int64_t B = in.logp.size(0), T = in.logp.size(1);
  check_matrix("logp_old", in.logp_old, B, T);
  check_matrix("logp_ref", in.logp_ref, B, T);
  check_matrix("mask", in.mask, B, T);
  check_vector("reward", in.reward, B);
  check_vector("group", in.group, B);
  check_vector("log_z", in.log_z, B);
  if (in.advantages.defined() && !is_per_sequence(in.advantages, B)) check_matrix("advantages", in.advantages, B, T);
  if (in.group.defined() && !c10::isIntegralType(in.group.scalar_type(), /*includeBool=*/false))
    throw InputError(std::string("disa::llm::loss: group has dtype ") + c10::toString(in.group.scalar_type()) +
                     ", expected an integer type");
}

// A detached, contiguous host copy in `dtype`; no copy when the tensor already is one.
Tensor host(const Tensor& t, torch::ScalarType dtype) {
  if (!t.defined()) return t;
  return t.detach().to(torch::kCPU, dtype).contiguous();
}

template <class T>
std::span<const T> view(const Tensor& t) {
  if (!t.defined()) return {};
  return {t.data_ptr<T>(), static_cast<std::size_t>(t.numel())};
}

// Hands the head's gradient vector to a tensor without copying B x T entries.
template <class Real>
Tensor adopt(std::vector<Real>&& values, at::IntArrayRef sizes) {
  auto* owned = new std::vector<Real>(std::move(values));
  return torch::from_blob(owned->data(), sizes, [owned](void*) { delete owned; },
                          torch::TensorOptions().dtype(c10::CppTypeToScalarType<Real>::value));
}

#if defined(DISA_HAVE_CUDA_KERNELS)
// CUDA tensors (and CPU tensors inside a kernels::CpuDeviceScope): the loss kernel
// (kernels/loss_heads.h, the same definitions checked against compute_loss), with no
// B x T host copy. Returns an undefined tensor when it
// does not cover the call (kernels::LossFallback: an uncovered option such as flowrl
// cispo, or a batch the head rejects), so the CPU head runs and reports.
Tensor run_head_on_kernels(AutogradContext* ctx, const disa::loss::Objective& objective, const LossTensors& in,
                       disa::loss::Diagnostics* diagnostics) {
  disa::kernels::GpuLossResult r;
  try {
    r = disa::kernels::loss_heads(objective, in.logp, in.logp_old, in.logp_ref, in.mask, in.reward, in.group,
                                  in.log_z, in.advantages);
  } catch (const disa::kernels::LossFallback&) {
    return Tensor();
  }
  ctx->saved_data["grad_logp"] = r.grad_logp;
  if (r.grad_log_z.defined()) ctx->saved_data["grad_log_z"] = r.grad_log_z.view(in.log_z.sizes());
  if (diagnostics) *diagnostics = std::move(r.diagnostics);
  return torch::scalar_tensor(r.loss, torch::TensorOptions().dtype(in.logp.scalar_type()).device(in.logp.device()));
}
#endif

template <class Real>
Tensor run_head(AutogradContext* ctx, const disa::loss::Objective& objective, const LossTensors& in,
                disa::loss::Diagnostics* diagnostics) {
  constexpr auto dtype = c10::CppTypeToScalarType<Real>::value;
  const std::int64_t B = in.logp.size(0), T = in.logp.size(1);
#if defined(DISA_HAVE_CUDA_KERNELS)
  if (in.logp.is_cuda() || disa::kernels::CpuDeviceScope::active()) {
    if (Tensor loss = run_head_on_kernels(ctx, objective, in, diagnostics); loss.defined()) return loss;
  }
#endif
  // The CPU head (and the fallback of the GPU path).
  // Host copies stay alive until compute_loss returns: the batch only borrows them.
  const Tensor logp = host(in.logp, dtype), logp_old = host(in.logp_old, dtype),
               logp_ref = host(in.logp_ref, dtype), mask = host(in.mask, dtype),
               reward = host(in.reward, dtype), group = host(in.group, torch::kInt64),
               log_z = host(in.log_z, dtype), advantages = host(in.advantages, dtype);
  disa::loss::LossBatch<Real> batch;
  batch.rows = static_cast<std::size_t>(B);
  batch.columns = static_cast<std::size_t>(T);
  batch.logp = view<Real>(logp);
  batch.logp_old = view<Real>(logp_old);
  batch.logp_ref = view<Real>(logp_ref);
  batch.mask = view<Real>(mask);
  batch.reward = view<Real>(reward);
  batch.group = view<std::int64_t>(group);
  batch.log_z = view<Real>(log_z);
  batch.advantages = view<Real>(advantages);

  disa::loss::LossResult<Real> result = disa::loss::compute_loss<Real>(objective, batch);
  TORCH_INTERNAL_ASSERT(result.grad_logp.size() == static_cast<std::size_t>(B * T),
                        "loss head returned ", result.grad_logp.size(), " logp gradients for a ", B, " x ", T,
                        " batch");
  ctx->saved_data["grad_logp"] = adopt(std::move(result.grad_logp), {B, T});
  if (in.log_z.defined() && disa::loss::has_log_z_gradient(objective)) {
    TORCH_INTERNAL_ASSERT(result.grad_log_z.size() == static_cast<std::size_t>(B), "loss head returned ",
                          result.grad_log_z.size(), " log_z gradients for ", B, " rows");
    ctx->saved_data["grad_log_z"] = adopt(std::move(result.grad_log_z), {B}).view(in.log_z.sizes());
  }
  if (diagnostics) *diagnostics = std::move(result.diagnostics);
  return torch::scalar_tensor(result.loss, torch::TensorOptions().dtype(dtype).device(in.logp.device()));
}

// An optional autograd input: autograd Functions collect the variables of c10::optional
// arguments, which is its own class in LibTorch 1.13 and an alias of std::optional by
// 2.4, where the alias is deprecated on its way out.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
using OptionalTensor = std::optional<Tensor>;
#else
using OptionalTensor = c10::optional<Tensor>;
#endif

struct HeadFunction : torch::autograd::Function<HeadFunction> {
  // log_z is optional so that an absent one is not an autograd input at all.
  static Tensor forward(AutogradContext* ctx, const Tensor& /*logp*/, const OptionalTensor& /*log_z*/,
                        const disa::loss::Objective* objective, const LossTensors* in,
                        disa::loss::Diagnostics* diagnostics) {
    if (in->logp.scalar_type() == torch::kFloat64) return run_head<double>(ctx, *objective, *in, diagnostics);
    return run_head<float>(ctx, *objective, *in, diagnostics);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const Tensor& g = grad_outputs[0];  // 0-dim, on logp's device
    const Tensor dlogp = ctx->saved_data.at("grad_logp").toTensor().to(g.device()) * g;
    Tensor dlog_z;
    if (const auto it = ctx->saved_data.find("grad_log_z"); it != ctx->saved_data.end())
      dlog_z = it->second.toTensor().to(g.device()) * g;
    return {dlogp, dlog_z, Tensor(), Tensor(), Tensor()};
  }
};

}  // namespace

torch::Tensor loss(const disa::loss::Objective& objective, const LossTensors& tensors,
                   disa::loss::Diagnostics* diagnostics) {
  check_shapes(tensors);
  OptionalTensor log_z;
  if (tensors.log_z.defined()) log_z = tensors.log_z;
  return HeadFunction::apply(tensors.logp, log_z, &objective, &tensors, diagnostics);
}

}  // namespace disa::llm
