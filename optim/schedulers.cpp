#include "schedulers.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "../core/ops.h"

namespace kiln::optim {

namespace {
array as_float(const array& step) { return astype(step, float32); }
}  // namespace

Schedule exponential_decay(float init, float decay_rate) {
  return [=](const array& step) { return power(array(decay_rate), as_float(step)) * init; };
}

Schedule step_decay(float init, float decay_rate, int step_size) {
  if (step_size < 1)
    throw std::invalid_argument("[step_decay] step_size must be positive, got " +
                                std::to_string(step_size));
  return [=](const array& step) {
    array k = floor_divide(astype(step, int32), array(step_size));
    return power(array(decay_rate), as_float(k)) * init;
  };
}

Schedule cosine_decay(float init, int decay_steps, float end) {
  if (decay_steps < 1)
    throw std::invalid_argument("[cosine_decay] decay_steps must be positive, got " +
                                std::to_string(decay_steps));
  return [=](const array& step) {
    array s = minimum(as_float(step), array(static_cast<float>(decay_steps)));
    array decay = (cos(s * static_cast<float>(M_PI / decay_steps)) + 1.f) * 0.5f;
    return decay * (init - end) + end;
  };
}

Schedule linear_schedule(float init, float end, int steps) {
  if (steps < 1)
    throw std::invalid_argument("[linear_schedule] steps must be greater than 0, got " +
                                std::to_string(steps));
  return [=](const array& step) {
    array s = minimum(as_float(step), array(static_cast<float>(steps)));
    return s * ((end - init) / steps) + init;
  };
}

Schedule join_schedules(std::vector<Schedule> schedules, std::vector<int> boundaries) {
  if (schedules.empty())
    throw std::invalid_argument("[join_schedules] needs at least one schedule");
  if (schedules.size() != boundaries.size() + 1)
    throw std::invalid_argument("[join_schedules] received " + std::to_string(boundaries.size()) +
                                " boundaries but expected " + std::to_string(schedules.size() - 1));
  return [schedules = std::move(schedules), boundaries = std::move(boundaries)](const array& step) {
    array out = schedules[0](step);
    for (size_t i = 0; i < boundaries.size(); ++i) {
      array b(boundaries[i], step.dtype());
      out = where(less(step, b), out, schedules[i + 1](subtract(step, b)));
    }
    return out;
  };
}

}  // namespace kiln::optim
