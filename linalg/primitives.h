// The primitives of kiln::linalg. linalg sits above the backends, so each primitive's
// eval_cpu (Eigen) and eval_gpu live here in linalg/, not in cpu/ or gpu/.
// They are not differentiable: vjp/jvp throw TransformError (use stop_gradient).
#pragma once
#include <string>
#include <vector>

#include "../core/primitives.h"

namespace kiln::linalg {

// Thin Householder QR of (..., m, n) float32: outputs Q (..., m, k), R (..., k, n),
// k = min(m, n). On the CPU, throws kiln::Error at eval when the input holds NaN or Inf; the
// GPU path (gpu/qr.cpp) propagates them.
class QR : public Primitive {
 public:
  explicit QR(Stream s) : Primitive(s) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  // Vulkan kernels for float32 (..., m, n ≤ min(m, 256)) matrices, else eval_cpu.
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums,
                         const std::vector<array>& outputs) override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) override;
  std::string name() const override { return "QR"; }
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
};

// Thin SVD of (..., m, n) float32: outputs U (..., m, k), S (..., k) descending,
// Vt (..., k, n), k = min(m, n). Throws kiln::Error at eval on NaN or Inf.
class SVD : public Primitive {
 public:
  explicit SVD(Stream s) : Primitive(s) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  // Runs eval_cpu (inputs are downloaded on first host access); outputs are host data.
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums,
                         const std::vector<array>& outputs) override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) override;
  std::string name() const override { return "SVD"; }
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
};

}  // namespace kiln::linalg
