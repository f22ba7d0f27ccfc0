// TEMPORARY: replaced by the autograd rules (autograd/*.cpp).
#include "../core/primitives.h"
namespace kiln {
std::vector<array> Unary::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> Unary::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> Binary::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> Binary::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> Select::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> Select::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> AsType::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> AsType::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> StopGradient::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> StopGradient::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> Arange::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> Arange::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> Broadcast::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> Broadcast::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> Reshape::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> Reshape::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> Flatten::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> Flatten::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> Transpose::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> Transpose::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> Slice::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> Slice::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> SliceUpdate::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> SliceUpdate::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> Concatenate::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> Concatenate::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> Gather::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> Gather::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> ScatterAdd::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> ScatterAdd::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> GatherAxis::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> GatherAxis::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> ScatterAxis::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> ScatterAxis::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> Reduce::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> Reduce::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> ArgReduce::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> ArgReduce::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> Scan::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> Scan::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> Sort::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> Sort::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> Matmul::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> Matmul::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
std::vector<array> RandomBits::vjp(const std::vector<array>& p, const std::vector<array>& c, const std::vector<int>& a, const std::vector<array>& o) { return Primitive::vjp(p, c, a, o); }
std::vector<array> RandomBits::jvp(const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) { return Primitive::jvp(p, t, a); }
}
