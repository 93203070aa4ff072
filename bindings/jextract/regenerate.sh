#!/usr/bin/env bash
# Regenerates the jextract bindings under bindings/src/main/java/**/gen from the headers and
# argfiles in this folder. Needs an installed jextract (JDK 22+ build, libclang 16): set JEXTRACT
# to its launcher or put `jextract` on PATH. Generated files are committed; never edit them by hand.
# Headers: Debian's opencl-headers, libamdhip64-dev and librocm-smi-dev; the CUDA toolkit's cuda.h
# (CUDA_HOME, default /usr/local/cuda). No library is named here (-l): the wrappers beside the gen
# packages load each library by soname only when a backend asks for it, so a missing library
# means "backend unavailable" rather than a failing class initializer.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out="$here/../src/main/java"
jextract=${JEXTRACT:-jextract}
command -v "$jextract" >/dev/null || { echo "regenerate.sh: jextract not found (set JEXTRACT=/path/to/jextract)" >&2; exit 1; }

generate() { # header argfile [extra jextract flags...]
  local header=$1 args=$2; shift 2
  local pkg
  pkg=$(sed -n 's/^--target-package \(.*\)$/\1/p' "$here/$args")
  rm -rf "$out/${pkg//.//}"
  "$jextract" @"$here/$args" "$@" --output "$out" "$here/$header"
  echo "generated $pkg from $header"
}

generate posix.h posix.args
generate opencl.h opencl.args
generate cuda_driver.h cuda.args -I "${CUDA_HOME:-/usr/local/cuda}/include"
generate hip.h hip.args -D__HIP_PLATFORM_AMD__
generate rocm_smi.h rocm_smi.args
generate nvml_min.h nvml.args
