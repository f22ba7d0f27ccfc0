// Learning-rate schedules, as in mlx.optimizers: functions of the optimizer's step (an int32
// scalar array) returning a float32 scalar array, so a compiled step never retraces.
#pragma once
#include <functional>
#include <vector>

#include "../core/array.h"

namespace kiln::optim {

using Schedule = std::function<array(const array& step)>;

// init * decay_rate^step
Schedule exponential_decay(float init, float decay_rate);
// init * decay_rate^(step / step_size) (integer division)
Schedule step_decay(float init, float decay_rate, int step_size);
// end + (init - end) * 0.5 (1 + cos(pi * min(step, decay_steps) / decay_steps)).
// Default end = 0; constant end beyond decay_steps.
Schedule cosine_decay(float init, int decay_steps, float end = 0.f);
// init + (end - init) * min(step, steps) / steps; steps >= 1.
Schedule linear_schedule(float init, float end, int steps);
// schedules[0] until boundaries[0], then schedules[1] evaluated at step - boundaries[0], ...
// (boundaries.size() == schedules.size() - 1). E.g. warmup then cosine:
//   join_schedules({linear_schedule(0, 1e-3, 100), cosine_decay(1e-3, 900)}, {100})
Schedule join_schedules(std::vector<Schedule> schedules, std::vector<int> boundaries);

}  // namespace kiln::optim
