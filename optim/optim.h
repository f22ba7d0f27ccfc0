// kiln::optim — optimizers, learning-rate schedules and gradient clipping.
#pragma once

#include "optimizers.h"
#include "schedulers.h"
