#pragma once
// Every differentiable op, one header per op group. Each op records a tape node when an input
// requires grad (autograd/tape.h) and runs on the device of its inputs; each group header also
// declares its CPU and CUDA kernels (ops/dispatch.h; docs/adding-an-op.md lists an op's files).
// Shapes: activations NHWC [N, H, W, C]; conv weights OHWI [Cout, KH, KW, Cin].
#include "autograd/tape.h"
#include "ops/batch_norm.h"
#include "ops/conv2d.h"
#include "ops/dense.h"
#include "ops/pointwise.h"
#include "ops/precision.h"
#include "ops/similarity.h"
#include "ops/spatial.h"
