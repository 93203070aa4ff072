#include <rocm_smi/rocm_smi.h>
