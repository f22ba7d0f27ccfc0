// eval_cpu of Compiled: the whole fused region in one pass over memory. The output index
// space is cut into blocks small enough for L1; every node is computed block by block into a
// scratch buffer with the same span kernels as the eager ops, so results match eager exactly.
#include <cstring>

#include "../core/compiled.h"
#include "cpu_utils.h"
#include "ew_kernels.h"

namespace kiln {

namespace {
constexpr size_t kBlock = 1024;

struct InputView {
  const char* base;
  size_t itemsize;
  int mode;  // 0: scalar, 1: contiguous over the output, 2: strided (gather)
  Shape cshape;     // mode 2: the output shape collapsed for this input
  Strides strides;  // mode 2: the input's strides over cshape (0 on broadcast axes)
};
}  // namespace

void Compiled::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const Shape& shape = outputs[0].shape();
  // Regions reading an operand broadcast along the innermost axis (a per-row statistic against
  // a matrix: (M, 1) → (M, N)) run faster as the eager kernels, whose loops keep the value in
  // a register, than gathered block by block: node by node. (A bias (N,) over rows is copied in
  // whole runs and stays fused.)
  bool column = false;
  for (auto& in : inputs)
    column = column || (in.size() != 1 && in.shape() != shape && !shape.empty() &&
                        shape.back() != 1 && (in.ndim() == 0 || in.shape().back() == 1));
  if (column) {
    auto outs = expand(inputs);
    eval(outs);
    for (size_t i = 0; i < outputs.size(); ++i) outputs[i].set_data(outs[i].data_shared());
    return;
  }
  for (auto& o : outputs) cpu::alloc(o);
  size_t total = outputs[0].size();
  if (total == 0) return;

  std::vector<InputView> views(inputs.size());
  for (size_t k = 0; k < inputs.size(); ++k) {
    auto& v = views[k];
    v.base = static_cast<const char*>(const_cast<array&>(inputs[k]).raw_host_ptr());
    v.itemsize = inputs[k].itemsize();
    if (inputs[k].size() == 1) v.mode = 0;
    else if (inputs[k].shape() == shape) v.mode = 1;
    else {
      v.mode = 2;
      cpu::StridedLoop<1> loop(shape, {cpu::broadcast_strides(inputs[k].shape(), shape)});
      v.cshape = loop.shape;
      v.strides = loop.strides[0];
    }
  }
  // output node → output array (a node may be several outputs)
  std::vector<int> out_of_node(nodes_.size(), -1);
  for (size_t i = 0; i < outputs_.size(); ++i) out_of_node[outputs_[i]] = static_cast<int>(i);
  std::vector<char*> out_ptr;
  for (auto& o : outputs) out_ptr.push_back(static_cast<char*>(o.raw_host_ptr()));

  size_t nblocks = (total + kBlock - 1) / kBlock;
  Strides out_strides = outputs[0].strides();
  cpu::parallel_for(nblocks, std::max<size_t>(1, 32768 / kBlock), [&](size_t b0, size_t b1) {
    // scratch: one block per node and per strided input
    std::vector<std::vector<char>> scratch(nodes_.size());
    std::vector<std::vector<char>> gathered(inputs.size());
    for (size_t i = 0; i < nodes_.size(); ++i) scratch[i].resize(kBlock * nodes_[i].dtype.size());
    std::vector<const char*> ptr(nodes_.size());
    std::vector<int64_t> node_stride(nodes_.size(), 1);
    std::vector<int> idx(shape.size() + 1);
    for (size_t b = b0; b < b1; ++b) {
      size_t start = b * kBlock, n = std::min(kBlock, total - start);
      // operand pointer + stride (0 or 1) for an external input
      auto input_ptr = [&](int k, int64_t& stride) -> const char* {
        auto& v = views[k];
        if (v.mode == 0) {
          stride = 0;
          return v.base;
        }
        stride = 1;
        if (v.mode == 1) return v.base + start * v.itemsize;
        auto& g = gathered[k];
        if (g.size() < kBlock * v.itemsize) {
          g.resize(kBlock * v.itemsize);
        }
        // gather n elements starting at flat output index `start`, run by run over the
        // input's collapsed innermost axis (a run is a fill when that stride is 0, a copy
        // when it is 1); a block inside one run is used in place
        const Shape& cs = v.cshape;
        const Strides& cst = v.strides;
        int nd = static_cast<int>(cs.size());
        size_t r = start;
        for (int d = nd - 1; d >= 0; --d) {
          idx[d] = static_cast<int>(r % cs[d]);
          r /= cs[d];
        }
        int64_t off = 0;
        for (int d = 0; d < nd; ++d) off += idx[d] * cst[d];
        int64_t inner = cst[nd - 1];
        if (idx[nd - 1] + n <= static_cast<size_t>(cs[nd - 1]) && (inner == 0 || inner == 1)) {
          stride = inner;
          return v.base + off * v.itemsize;
        }
        size_t done = 0;
        while (done < n) {
          size_t run = std::min<size_t>(n - done, cs[nd - 1] - idx[nd - 1]);
          char* dst = g.data() + done * v.itemsize;
          const char* src = v.base + off * v.itemsize;
          if (inner == 1) {
            std::memcpy(dst, src, run * v.itemsize);
          } else if (inner == 0) {
            for (size_t e = 0; e < run; ++e) std::memcpy(dst + e * v.itemsize, src, v.itemsize);
          } else {
            for (size_t e = 0; e < run; ++e)
              std::memcpy(dst + e * v.itemsize, src + e * inner * v.itemsize, v.itemsize);
          }
          done += run;
          // advance the multi-index by `run` (to the start of the next row)
          off += static_cast<int64_t>(run) * inner;
          idx[nd - 1] += static_cast<int>(run);
          for (int d = nd - 1; d > 0 && idx[d] >= cs[d]; --d) {
            off -= static_cast<int64_t>(cs[d]) * cst[d];
            idx[d] = 0;
            ++idx[d - 1];
            off += cst[d - 1];
          }
        }
        return g.data();
      };
      for (size_t i = 0; i < nodes_.size(); ++i) {
        const FusedNode& nd = nodes_[i];
        auto arg = [&](int j, int64_t& st) -> const char* {
          int a = nd.args[j];
          if (a >= 0) {
            st = node_stride[a];
            return ptr[a];
          }
          return input_ptr(-a - 1, st);
        };
        int oi = out_of_node[i];
        char* dst = oi >= 0 ? out_ptr[oi] + start * nd.dtype.size() : scratch[i].data();
        Primitive* p = nd.primitive.get();
        switch (p->kind()) {
          case PrimitiveKind::unary: {
            int64_t s0;
            const char* x = arg(0, s0);
            if (auto* u = dynamic_cast<Unary*>(p)) {
              if (s0 == 0) {
                // a scalar operand: compute once, replicate
                char tmp[8];
                cpu::unary_span(u->op(), nodes_[i].args[0] >= 0 ? nodes_[nd.args[0]].dtype
                                                                : input_dtypes_[-nd.args[0] - 1],
                                x, tmp, 1);
                for (size_t e = 0; e < n; ++e)
                  std::memcpy(dst + e * nd.dtype.size(), tmp, nd.dtype.size());
              } else {
                Dtype in_t = nd.args[0] >= 0 ? nodes_[nd.args[0]].dtype
                                             : input_dtypes_[-nd.args[0] - 1];
                cpu::unary_span(u->op(), in_t, x, dst, n);
              }
            } else if (auto* c = dynamic_cast<AsType*>(p)) {
              Dtype in_t = nd.args[0] >= 0 ? nodes_[nd.args[0]].dtype
                                           : input_dtypes_[-nd.args[0] - 1];
              if (s0 == 0) {
                char tmp[8];
                cpu::astype_span(in_t, x, c->dtype(), tmp, 1);
                for (size_t e = 0; e < n; ++e)
                  std::memcpy(dst + e * nd.dtype.size(), tmp, nd.dtype.size());
              } else {
                cpu::astype_span(in_t, x, c->dtype(), dst, n);
              }
            } else {  // StopGradient / identity-like
              size_t isz = nd.dtype.size();
              for (size_t e = 0; e < n; ++e) std::memcpy(dst + e * isz, x + e * s0 * isz, isz);
            }
            break;
          }
          case PrimitiveKind::broadcast: {
            int64_t s0;
            const char* x = arg(0, s0);
            size_t isz = nd.dtype.size();
            if (oi < 0) {
              // pass through without a copy
              ptr[i] = x;
              node_stride[i] = s0;
              continue;
            }
            for (size_t e = 0; e < n; ++e) std::memcpy(dst + e * isz, x + e * s0 * isz, isz);
            break;
          }
          case PrimitiveKind::binary: {
            auto* bp = static_cast<Binary*>(p);
            int64_t s0, s1;
            const char* x = arg(0, s0);
            const char* y = arg(1, s1);
            Dtype t = nd.args[0] >= 0 ? nodes_[nd.args[0]].dtype : input_dtypes_[-nd.args[0] - 1];
            if (s0 == 0 && s1 == 0) {
              char tmp[8];
              cpu::binary_span(bp->op(), t, x, 0, y, 0, tmp, 1);
              for (size_t e = 0; e < n; ++e)
                std::memcpy(dst + e * nd.dtype.size(), tmp, nd.dtype.size());
            } else {
              cpu::binary_span(bp->op(), t, x, s0, y, s1, dst, n);
            }
            break;
          }
          case PrimitiveKind::ternary: {
            int64_t s0, s1, s2;
            const char* c = arg(0, s0);
            const char* x = arg(1, s1);
            const char* y = arg(2, s2);
            cpu::select_span(nd.dtype, reinterpret_cast<const uint8_t*>(c), s0, x, s1, y, s2, dst,
                             n);
            break;
          }
          default:
            throw std::logic_error("[Compiled] unexpected primitive in a fused region: " +
                                   p->name());
        }
        ptr[i] = dst;
        node_stride[i] = 1;
      }
    }
  });
}

}  // namespace kiln
