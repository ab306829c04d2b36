#include "llm/pipeline/data_parallel.h"

#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <torch/torch.h>

#include "src/input_error.h"
#include "src/json_strict.h"
#include "src/numerical_error.h"

#ifdef DISA_HAVE_GLOO
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif

namespace disa::llm::pipeline {

namespace {
enum FailureKind { kNumerical = 0, kInput = 1, kOther = 2, kKinds = 3 };

FailureKind kind_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const NumericalError&) {
    return kNumerical;
  } catch (const InputError&) {
    return kInput;
  } catch (...) {
    return kOther;
  }
}
}  // namespace

void RankFailure::append_counts(std::vector<double>& scalars) const {
  for (int k = 0; k < kKinds; ++k) scalars.push_back(error_ && kind_of(error_) == k ? 1.0 : 0.0);
}

void RankFailure::stop_if_any_failed(std::vector<double>& scalars, std::int64_t step) const {
  if (scalars.size() < kKinds) throw std::logic_error("RankFailure: the failure counts are missing");
  double counts[kKinds];
  for (int k = kKinds - 1; k >= 0; --k) counts[k] = scalars.back(), scalars.pop_back();
  if (counts[kNumerical] + counts[kInput] + counts[kOther] == 0) return;
  rethrow_if_failed();
  const std::string message = fmt::format(
      "train: step {}: stopped because {} other rank(s) failed ({} numerical, {} bad input, {} other); their logs "
      "say why",
      step, counts[kNumerical] + counts[kInput] + counts[kOther], counts[kNumerical], counts[kInput], counts[kOther]);
  if (counts[kNumerical] > 0) throw NumericalError(message);
  if (counts[kInput] > 0) throw InputError(message);
  throw std::runtime_error(message);
}

#ifdef DISA_HAVE_GLOO
namespace {

// The network devices Gloo's pairs connect over. As torch.distributed: GLOO_SOCKET_IFNAME
// (comma-separated interfaces) when set, which ranks on several machines need (each rank
// announces its address on that interface); else the loopback, which is all ranks on one
// machine need and cannot fail on a host whose name does not resolve.
std::vector<std::shared_ptr<::gloo::transport::Device>> gloo_devices() {
  std::vector<std::shared_ptr<::gloo::transport::Device>> devices;
  const char* names = std::getenv("GLOO_SOCKET_IFNAME");
  if (names == nullptr || *names == '\0') {
    devices.push_back(::c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    return devices;
  }
  std::string list(names);
  for (std::size_t begin = 0; begin <= list.size();) {
    const std::size_t end = std::min(list.find(',', begin), list.size());
    const std::string name = list.substr(begin, end - begin);
    try {
      if (name.empty()) throw std::runtime_error("an empty interface name");
      devices.push_back(::c10d::ProcessGroupGloo::createDeviceForInterface(name));
    } catch (const std::exception& e) {
      throw InputError(fmt::format("train: GLOO_SOCKET_IFNAME='{}': interface '{}' cannot be used ({})",
                                   text_excerpt(list), text_excerpt(name), text_excerpt(e.what())));
    }
    begin = end + 1;
  }
  return devices;
}

class GlooReducer final : public GradientReducer {
 public:
  GlooReducer(const std::string& file, std::int64_t rank, std::int64_t world_size) {
    auto options = ::c10d::ProcessGroupGloo::Options::create();
    options->devices = gloo_devices();  // before the rendezvous: a bad interface fails alone
    auto store = c10::make_intrusive<::c10d::FileStore>(file, static_cast<int>(world_size));
    group_ = c10::make_intrusive<::c10d::ProcessGroupGloo>(store, static_cast<int>(rank), static_cast<int>(world_size),
                                                           options);
  }

  void all_reduce_sum(std::vector<torch::Tensor>& tensors, std::vector<double>& scalars) override {
    // One flat buffer per dtype (one collective per dtype instead of one per parameter).
    // Gradients are summed in their own dtype: with two ranks, f32(a + b) is exactly what
    // autograd's accumulation of the same two micro-batches computes in one process (one
    // cat of bf16 and f32 parts would promote the bf16 ones and sum them in f32).
    std::map<torch::ScalarType, std::vector<std::size_t>> by_dtype;
    for (std::size_t i = 0; i < tensors.size(); ++i) by_dtype[tensors[i].scalar_type()].push_back(i);
    torch::NoGradGuard no_grad;
    for (const auto& [dtype, members] : by_dtype) {
      std::vector<torch::Tensor> parts;
      for (std::size_t i : members) parts.push_back(tensors[i].detach().to(torch::kCPU).reshape({-1}));
      std::vector<torch::Tensor> buffer{torch::cat(parts)};
      group_->allreduce(buffer)->wait();
      std::int64_t at = 0;
      for (std::size_t i : members) {
        torch::Tensor& t = tensors[i];
        const std::int64_t n = t.numel();
        t.copy_(buffer[0].narrow(0, at, n).view(t.sizes()).to(t.device()));
        at += n;
      }
    }
    if (!scalars.empty()) {
      std::vector<torch::Tensor> sums{torch::tensor(scalars, torch::kFloat64)};
      group_->allreduce(sums)->wait();
      for (std::size_t i = 0; i < scalars.size(); ++i) scalars[i] = sums[0][static_cast<std::int64_t>(i)].item<double>();
    }
  }

  void all_reduce_max(std::vector<double>& scalars) override {
    if (scalars.empty()) return;
    std::vector<torch::Tensor> values{torch::tensor(scalars, torch::kFloat64)};
    ::c10d::AllreduceOptions options;
    options.reduceOp = ::c10d::ReduceOp::MAX;
    group_->allreduce(values, options)->wait();
    for (std::size_t i = 0; i < scalars.size(); ++i) scalars[i] = values[0][static_cast<std::int64_t>(i)].item<double>();
  }

 private:
  c10::intrusive_ptr<::c10d::ProcessGroupGloo> group_;
};

}  // namespace

std::unique_ptr<GradientReducer> make_gloo_reducer(const std::string& rendezvous_file, std::int64_t rank,
                                                   std::int64_t world_size) {
  try {
    return std::make_unique<GlooReducer>(rendezvous_file, rank, world_size);
  } catch (const c10::Error& e) {
    throw InputError(fmt::format("train: Gloo rendezvous at '{}' (rank {} of {}) failed: {}", rendezvous_file, rank,
                                 world_size, std::string(e.what()).substr(0, 300)));
  }
}
#else
std::unique_ptr<GradientReducer> make_gloo_reducer(const std::string&, std::int64_t, std::int64_t) {
  throw InputError("train: world_size > 1 needs Gloo, and this build has none (install libgloo-dev and rebuild)");
}
#endif

}  // namespace disa::llm::pipeline
