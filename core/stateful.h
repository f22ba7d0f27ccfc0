// Stateful: anything whose arrays compile reads before each call and writes back after it
// (nn::Module, optim::Optimizer, random::state(), StateList).
#pragma once
#include <vector>

#include "array.h"

namespace kiln {

class Stateful {
 public:
  virtual ~Stateful() = default;
  // The arrays of the state, flattened in a stable order.
  virtual std::vector<array> state_arrays() const = 0;
  // Replaces the arrays (same order and count as state_arrays() returned, or a new
  // structure after a trace that changed it).
  virtual void set_state_arrays(const std::vector<array>& arrays) = 0;
};

// A plain list of arrays: the C++ form of the seeds' `state = []`.
class StateList : public Stateful {
 public:
  StateList() = default;
  StateList(std::initializer_list<array> a) : arrays(a) {}
  explicit StateList(std::vector<array> a) : arrays(std::move(a)) {}
  std::vector<array> state_arrays() const override { return arrays; }
  void set_state_arrays(const std::vector<array>& a) override { arrays = a; }
  size_t size() const { return arrays.size(); }
  array& operator[](size_t i) { return arrays[i]; }
  void push_back(array a) { arrays.push_back(std::move(a)); }
  std::vector<array> arrays;
};

}  // namespace kiln
