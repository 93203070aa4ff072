# Sourced by ./spillway and ci/test: where the TornadoVM SDK is, and the Maven arguments that build the
# tornado module against it.

# Prints the TornadoVM SDK folder: $TORNADOVM_HOME when set; otherwise, when $2 is "shared", the SDK kept
# beside the project (../shared/tornadovm, unpacked by its install script; CI and the tests use it);
# nothing when there is none. $1 = the project root.
spillway_tornadovm_home() {
  local root=$1 mode=${2:-}
  if [ -n "${TORNADOVM_HOME:-}" ]; then
    printf '%s\n' "$TORNADOVM_HOME"
  elif [ "$mode" = shared ] && [ -x "$root/../shared/tornadovm/install" ]; then
    "$root/../shared/tornadovm/install" || echo "spillway: ../shared/tornadovm/install failed: testing without TornadoVM" >&2
  fi
}

# Prints the Maven arguments that turn the tornadovm profile on for SDK $1 (its tornado-api jar names the
# version), one per line, or nothing (and a warning on stderr) when $1 is not an SDK. Works with bash 3.2
# (no mapfile): read the lines with `while read`.
spillway_tornadovm_maven_args() {
  local home=$1 api
  api=$(ls "$home"/share/java/tornado/tornado-api-*.jar 2>/dev/null | head -n 1 || true)
  if [ -z "$api" ] || [ ! -f "$home/tornado-argfile" ]; then
    echo "spillway: TORNADOVM_HOME=$home is no TornadoVM SDK (no share/java/tornado/tornado-api-*.jar or tornado-argfile); building without the TornadoVM backend" >&2
    return 0
  fi
  api=${api##*/tornado-api-}
  printf '%s\n' "-Dtornadovm.home=$home" "-Dtornadovm.version=${api%.jar}"
}

# Whether the arguments of a spillway command run TornadoVM: --device/-dev naming tornado (alone or in a
# list, e.g. opencl:0,tornado:0), or `devices`
# (which lists TornadoVM's devices).
spillway_uses_tornadovm() {
  local prev="" a
  [ "${1:-}" = devices ] && return 0
  for a in "$@"; do
    case "$a" in
      --device=*tornado*|-dev=*tornado*) return 0 ;;
      *tornado*) if [ "$prev" = --device ] || [ "$prev" = -dev ]; then return 0; fi ;;
    esac
    prev=$a
  done
  return 1
}
