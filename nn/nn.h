// kiln::nn — modules, layers, activations, initializers, losses and value_and_grad.
#pragma once

#include "activations.h"
#include "attention.h"
#include "conv.h"
#include "init.h"
#include "layers.h"
#include "losses.h"
#include "module.h"
#include "value_and_grad.h"
