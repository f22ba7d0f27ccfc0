// kiln — the umbrella header: #include <kiln/kiln.h>
#pragma once

#include "core/array.h"
#include "core/device.h"
#include "core/dtype.h"
#include "core/errors.h"
#include "core/ops.h"
#include "core/random.h"
#include "core/stateful.h"
#include "autograd/transforms.h"
#include "compile/compile.h"
#include "compile/bucket.h"
#include "gpu/gpu.h"
#include "gpu/custom_kernel.h"
#include "linalg/linalg.h"
#include "nn/nn.h"
#include "optim/optim.h"
#include "io/io.h"
