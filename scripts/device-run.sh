#!/usr/bin/env bash
# Runs cudadent's GPU stages on the GPU machine, from release binaries built on a CPU
# machine (scripts/device-prepare.sh puts them in .device/bin and the prebuilt cubins in
# .cache/). Writes logs and the artifacts the tools produced under $OUT as tarballs.
#
#   scripts/device-run.sh [STAGE...]     stages: doctor oracle controls sancapture sanitizer bench
#   (default: doctor oracle controls)
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
OUT=${OUT:-$root/.device/out}
mkdir -p "$OUT" logs
bin=$root/.device/bin
export PATH=$bin:$PATH
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(doctor oracle controls)
summary=$OUT/summary.txt
: > "$summary"
note() { echo "$*" | tee -a "$summary"; }
timed() { # name, command...
  local name=$1; shift
  local t0=$EPOCHREALTIME
  "$@" > "logs/$name.log" 2>&1
  local rc=$?
  local t1=$EPOCHREALTIME
  note "$(printf '%-40s exit %d  %6.1fs' "$name" "$rc" "$(python3 -c "print($t1 - $t0)")")"
  return $rc
}
for stage in "${stages[@]}"; do
  case $stage in
    doctor)
      nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu --format=csv > logs/nvidia-smi.log 2>&1
      timed doctor cudadent doctor
      cat logs/doctor.log logs/nvidia-smi.log >> "$summary"
      ;;
    oracle)
      for n in 1 2 3 4 5 6; do timed "oracle.canon_$n" oracle --config "configs/canon_$n.toml"; done
      for n in 1 2 3 4 5 6; do grep -E "^oracle canon_" "logs/oracle.canon_$n.log" >> "$summary"; done
      ;;
    controls)
      for n in 3 5; do timed "oracle-controls.canon_$n" oracle --config "configs/canon_$n.toml" --controls; done
      grep -E "^oracle canon_" logs/oracle-controls.*.log >> "$summary"
      ;;
    sancapture)
      # Raw compute-sanitizer logs of each planted-bug control and of a clean kernel:
      # the real captures the sanitizer-gate parser is tested on.
      for pair in racecheck:sync_race_smem memcheck:oob_write_far initcheck:uninit_read synccheck:divergent_barrier \
                  racecheck:fa_tc memcheck:fa_tc initcheck:fa_tc synccheck:fa_tc; do
        tool=${pair%%:*}; k=${pair##*:}
        m=kernels/selftest/$k.toml; [ -f "$m" ] || m=kernels/attention/$k.toml
        extra=(); [ "$tool" = memcheck ] && extra=(--leak-check full --padding 4096)
        [ "$tool" = racecheck ] && extra=(--racecheck-report all)
        timed "cs.$tool.$k" compute-sanitizer --tool "$tool" "${extra[@]}" --print-limit 10000 \
          oracle --config configs/canon_1.toml --kernel "$m" --single-launch
      done
      compute-sanitizer --version > logs/compute-sanitizer.version.log 2>&1
      ;;
    sanitizer)
      for n in 1 5; do timed "sanitizer.canon_$n" sanitizer-gate --config "configs/canon_$n.toml"; done
      timed "sanitizer.canon_3" sanitizer-gate --config configs/canon_3.toml --tool memcheck --tool racecheck
      ;;
    bench)
      for n in 1 2 3 4 5 6; do timed "bench.canon_$n" bench --config "configs/canon_$n.toml"; done
      ;;
    selfcheck)
      nvcc -arch=sm_90 -O2 -o /tmp/fa_tc_selfcheck kernels/attention/fa_tc_selfcheck.cu > logs/selfcheck-build.log 2>&1
      timed fa_tc_selfcheck /tmp/fa_tc_selfcheck
      tail -5 logs/fa_tc_selfcheck.log >> "$summary"
      ;;
    *) note "unknown stage $stage" ;;
  esac
done
tar czf "$OUT/logs.tgz" logs
[ -d artifacts ] && tar czf "$OUT/artifacts.tgz" artifacts
cat "$summary"
