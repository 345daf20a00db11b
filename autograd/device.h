#pragma once
// Devices a tensor can live on. CUDA is compiled in when nvcc is found (CONTRASEG_CUDA);
// cuda_available() also checks that a device is visible at run time.
#include <string>

namespace cs {

enum class Device { CPU, CUDA };

inline const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }
Device parse_device(const std::string& s);  // "cpu" | "cuda"; throws on anything else

// True when the CUDA backend is compiled in and at least one GPU is visible.
bool cuda_available();
// The GPUs visible to this process (CUDA_VISIBLE_DEVICES applies); 0 without the CUDA backend.
int cuda_device_count();
// Waits until every op queued on the device has finished (nothing to wait for on the CPU).
void device_synchronize(Device d);
// Subnormal floats are flushed to zero (FTZ and DAZ) in every thread of a program that links
// contraseg, from before main (threads inherit the setting from the thread that starts them).
// A subnormal operand costs an Intel CPU a microcode assist per instruction, and an AMD CPU
// nothing: on the tiny gradients that reach the deepest decoder block in stage 2, one fp32
// convolution backward ran 30x slower on an Intel Xeon. Flushing makes a step's speed, and its
// few results that would be subnormal, the same on both. True when set (x86-64 only).
bool cpu_flushes_subnormals();
// The CPU as /proc/cpuinfo names it, with its family and model: "AMD EPYC (family 25 model 1)".
std::string cpu_model();
// "cpu: AMD EPYC (family 25 model 1)" or "cuda: NVIDIA H100 80GB HBM3 (sm_90), cuDNN 9.x" — for logs and run folders.
std::string device_description(Device d);

}  // namespace cs
