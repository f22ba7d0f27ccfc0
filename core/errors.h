// kiln error hierarchy. Every failure a user can provoke is one of these (or
// std::invalid_argument for bad arguments to an op); messages name the operation.
#pragma once
#include <stdexcept>
#include <string>

namespace kiln {

// Base of kiln's own runtime errors.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Evaluating, printing or reading a placeholder of a compile trace.
class TraceError : public Error {
 public:
  using Error::Error;
};

// GPU (Vulkan) failures: no device, out of memory, device loss, kernel compile errors.
class GpuError : public Error {
 public:
  using Error::Error;
};

// Out of memory on a device.
class OutOfMemoryError : public GpuError {
 public:
  using GpuError::GpuError;
};

// A transform (vjp/jvp) asked of a primitive that has no such rule.
class TransformError : public Error {
 public:
  using Error::Error;
};

// A damaged, truncated, foreign or mismatched checkpoint / weights file.
class CheckpointError : public Error {
 public:
  using Error::Error;
};

}  // namespace kiln
