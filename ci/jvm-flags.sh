# Sourced by ./spillway (and ci/gpu-bundle's check.sh copies the flags): the JVM flags of a Spillway run,
# and the start-up cache (JDK 25's AOT cache) that the launcher creates on first use.

# --add-modules / native access: the Vector API and the FFM bindings.
# -XX:+UseSerialGC -Xmn24m -Xms48m: the heap's live data is small (activations, scratch, the
#   tokenizer) but the JIT warm-up makes gigabytes of short-lived garbage (the Vector API boxes every
#   vector until C2 has compiled a kernel); a fixed small young generation keeps that from growing the
#   committed heap (a default ParallelGC heap grew to 1.9 GB running a 590 MiB model), and the old
#   generation grows only with what stays alive. Young collections of ~15 MB of survivors take well
#   under a millisecond.
SPILLWAY_JVM_FLAGS=(--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED
  -XX:+UseSerialGC -Xmn24m -Xms48m)

# The cache's stamp: what it was made from (the jar's path, size and time, the JDK's runtime image, the flags). The JVM
# checks the jar itself and ignores a cache that does not match it; the stamp makes the launcher
# rebuild one instead of running without it from then on.
spillway_aot_stamp() { # $1 = jar
  local jar=$1
  printf '%s\n' "$jar $(spillway_file_stamp "$jar")" "$JAVA_HOME $(spillway_file_stamp "$JAVA_HOME/lib/modules")" \
    "${SPILLWAY_JVM_FLAGS[*]}"
}
spillway_file_stamp() { # $1 = file; prints its size and modification time
  stat -c '%s %Y' "$1" 2>/dev/null || stat -f '%z %m' "$1" 2>/dev/null || echo "none"
}

# Makes sure cache $2 exists for jar $1: creates it with a training run when it is missing or its
# stamp differs. Returns 0 when the cache is there to use, 1 when not (turned off with SPILLWAY_AOT=0,
# the folder is read-only, or creating it failed: then one warning line, and no new try until the jar
# or the JDK changes). SPILLWAY_AOT_WARMUP replaces the training run's arguments (default: warmup).
spillway_aot_ensure() {
  local jar=$1 aot=$2 stamp tmp
  [ "${SPILLWAY_AOT:-1}" != 0 ] || return 1
  stamp=$(spillway_aot_stamp "$jar")
  if [ -f "$aot" ] && [ "$(cat "$aot.stamp" 2>/dev/null)" == "$stamp" ]; then
    return 0
  fi
  [ "$(cat "$aot.failed" 2>/dev/null)" != "$stamp" ] || return 1
  [ -w "$(dirname "$aot")" ] || return 1
  echo "spillway: creating the start-up cache (once per build, about half a minute)..." >&2
  tmp="$aot.$$.tmp"
  rm -f "$aot" "$aot.stamp"
  # shellcheck disable=SC2086 # SPILLWAY_AOT_WARMUP is the training run's arguments
  if "$JAVA_HOME/bin/java" "${SPILLWAY_JVM_FLAGS[@]}" "-XX:AOTCacheOutput=$tmp" -jar "$jar" ${SPILLWAY_AOT_WARMUP:-warmup} \
      >"$aot.log" 2>&1 \
      && [ -s "$tmp" ] && mv -f "$tmp" "$aot"; then
    printf '%s\n' "$stamp" >"$aot.stamp"
    rm -f "$aot.failed"
    return 0
  fi
  rm -f "$tmp" "$tmp.config"
  printf '%s\n' "$stamp" >"$aot.failed"
  echo "spillway: warning: could not create the start-up cache (see $aot.log); running without it" >&2
  return 1
}
