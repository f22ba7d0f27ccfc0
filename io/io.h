// kiln io — checkpoints (cereal in a checksummed container), safetensors, .npy.
#pragma once

#include "checkpoint.h"
#include "container.h"
#include "npy.h"
#include "safetensors.h"
