#!/usr/bin/env bash
# Runs cudadent's GPU stages on the GPU machine, from release binaries built on a CPU
# machine (scripts/device-prepare.sh puts them in .device/bin and the prebuilt cubins in
# .cache/). Writes logs and the artifacts the tools produced under $OUT as tarballs.
#
#   scripts/device-run.sh [STAGE...]     stages: doctor oracle controls sancapture sancontrols
#     sanitizer sanitizer4 stalls bench benchlaunch bench3 again againsmall spread3 icache icachebench againbig agreement sol tma tmasweep tmaprofile hotn power tmaprobe ncu hardening resources variants smallgrid verify3
#     selfcheck wgmma wsprofile profile profilemma energyprobe sustain pingpong parts trace partsync
#   (default: doctor oracle controls)
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
OUT=${OUT:-$root/.device/out}
mkdir -p "$OUT" logs
bin=$root/.device/bin
export PATH=$bin:$PATH
# Prebuilt sm_90 cubins travel in .device/cache (the GPU is an H100); other archs build here.
if [ -d .device/cache ]; then mkdir -p .cache && cp -r --update=none .device/cache/. .cache/; fi
# The tree arrives without .git: provenance comes from scripts/device-prepare.sh.
if [ -f .device/provenance ]; then
  read -r CUDADENT_GIT_COMMIT CUDADENT_GIT_DIRTY < .device/provenance
  export CUDADENT_GIT_COMMIT CUDADENT_GIT_DIRTY
fi
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(doctor oracle controls)
summary=$OUT/summary.txt
: > "$summary"
note() { echo "$*" | tee -a "$summary"; }
limit=${STEP_TIMEOUT:-120}
timed() { # name, command... (each step killed after $STEP_TIMEOUT seconds)
  local name=$1; shift
  local t0=$EPOCHREALTIME
  timeout -k 5 "${STEP_LIMIT:-$limit}" "$@" > "logs/$name.log" 2>&1
  local rc=$?
  local t1=$EPOCHREALTIME
  note "$(printf '%-40s exit %d  %6.1fs' "$name" "$rc" "$(python3 -c "print($t1 - $t0)")")"
  # Keep what we have so far: a later step that hangs must not lose earlier logs.
  tar czf "$OUT/logs.tgz" logs 2>/dev/null
  [ -d artifacts ] && tar czf "$OUT/artifacts.tgz" artifacts 2>/dev/null
  return $rc
}
# ncu's report without the lines that name the profiled process's path on this machine.
ncu_lines() { grep -vE '^==PROF== (Connected|Disconnected)|^\[[0-9]+\] |NVIDIA Nsight Compute/[0-9.]+/Sections'; }
# Nsight Compute on the prebuilt wgmma harness (.device/wgmma/fa_wg_selfcheck) at the first
# launch of each named entry (canon_6, the harness's first case): the sections and metrics
# given, then per-SASS-instruction samples. Logs: logs/NAME.ENTRY.log, logs/NAME.source.ENTRY.log.
harness_profile() { # name, entries (space-separated), ncu arguments...
  local name=$1 entries=$2 k f
  shift 2
  local bin=.device/wgmma/fa_wg_selfcheck
  for k in $entries; do
    STEP_LIMIT=180 timed "$name.$k" ncu --clock-control none "$@" -k "regex:^$k\$" --launch-count 1 "$bin"
    STEP_LIMIT=180 timed "$name.source.$k" ncu --clock-control none --section SourceCounters \
      --page source --print-source sass --csv -k "regex:^$k\$" --launch-count 1 "$bin"
  done
  for f in logs/"$name".*.log; do ncu_lines < "$f" > "$f.tmp" && mv "$f.tmp" "$f"; done
}
# Nsight Compute sections of the profile stages (each adds its own --metrics).
profile_sections=(--section LaunchStats --section Occupancy --section SpeedOfLight
  --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis
  --section SchedulerStats --section WarpStateStats --section InstructionStats)
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
      for n in 1 5; do timed "sanitizer.canon_$n" sanitizer-gate --config "configs/canon_$n.toml" --timeout-s 60; done
      timed "sanitizer.canon_3" sanitizer-gate --config configs/canon_3.toml --tool memcheck --tool racecheck --timeout-s 60
      ;;
    stalls)
      # Where the warps wait (Nsight Compute's PC sampling, summed per stall reason) for
      # fa_tc's selected launch and cuDNN's kernel at canon_6.
      m=(--metrics "regex:smsp__pcsamp_warps_issue_stalled_.*" --section WarpStateStats)
      STEP_LIMIT=180 timed stalls.fa_tc.canon_6 ncu --clock-control none "${m[@]}" -k regex:fa_tc \
        oracle --config configs/canon_6.toml --kernel kernels/attention/fa_tc.toml --single-launch
      STEP_LIMIT=180 timed stalls.cudnn.canon_6 ncu --clock-control none "${m[@]}" -k regex:'sdpa|fprop|fmha|flash|attn' --launch-skip 2 --launch-count 1 \
        python3 scripts/sdpa_profile.py 16 16 512 64 0 cudnn
      for f in logs/stalls.*.log; do ncu_lines < "$f" > "$f.tmp" && mv "$f.tmp" "$f"; done
      ;;
    profilemma)
      # The profile stage's sections for fa_tc's mma.sync default launch at canon_4 (the
      # config selects wgmma_d128 on sm_90a; --launch default forces the D = 128 mma.sync
      # entry): is its tensor pipe the bound?
      sections=("${profile_sections[@]}"
        --metrics sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_tensor_op_hmma.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active,sm__pipe_fma_cycles_active.avg.pct_of_peak_sustained_active,l1tex__data_pipe_lsu_wavefronts_mem_shared.sum,smsp__pcsamp_warps_issue_stalled_math_pipe_throttle,smsp__pcsamp_warps_issue_stalled_mio_throttle,smsp__pcsamp_warps_issue_stalled_short_scoreboard,smsp__pcsamp_warps_issue_stalled_wait,smsp__pcsamp_warps_issue_stalled_barrier,smsp__pcsamp_warps_issue_stalled_long_scoreboard,smsp__pcsamp_warps_issue_stalled_selected)
      STEP_LIMIT=180 timed profile.fa_tc_default.canon_4 ncu --clock-control none "${sections[@]}" -k regex:fa_tc \
        oracle --config configs/canon_4.toml --kernel kernels/attention/fa_tc.toml --single-launch --launch default
      ncu_lines < logs/profile.fa_tc_default.canon_4.log > logs/p.tmp && mv logs/p.tmp logs/profile.fa_tc_default.canon_4.log
      ;;
    tma)
      # The TMA prototype (ABI attention_fwd_tma_v1) through the real tools, next to fa_tc:
      # oracle and bench of kernels/attention/variants/wgmma/tma_canon_{6,4}.toml into
      # artifacts-tma/ (not evidence: the configs are not in configs/).
      for n in 6 4; do
        c=kernels/attention/variants/wgmma/tma_canon_$n.toml
        timed "tma.oracle.canon_$n" oracle --config "$c" --out artifacts-tma
        timed "tma.bench.canon_$n" bench --config "$c" --out artifacts-tma
        grep -hE "^(oracle|bench) tma_canon_" "logs/tma.oracle.canon_$n.log" "logs/tma.bench.canon_$n.log" >> "$summary"
      done
      tar czf "$OUT/tma.tgz" artifacts-tma 2>/dev/null
      ;;
    tmasweep)
      # The prebuilt wgmma harness restricted to the TMA entries (FA_WG_ONLY; persistent
      # grids, occupancy): checks and the standard timings, then canon_6 over the batch sizes
      # of FA_WG_SWEEP (the time per work unit against the grid's waves), then once more.
      only=${FA_WG_ONLY:-fa_wg,fa_tma_ns2}
      sweep=${FA_WG_SWEEP:-12,13,14,15,16,17,18,19,20,21,24}
      bin=.device/wgmma/fa_wg_selfcheck
      STEP_LIMIT=300 timed wgmma-tma env FA_WG_ONLY="$only" "$bin"
      STEP_LIMIT=300 timed wgmma-tma-sweep env FA_WG_ONLY="$only" FA_WG_SWEEP="$sweep" "$bin"
      STEP_LIMIT=300 timed wgmma-tma-again env FA_WG_ONLY="$only" FA_WG_SWEEP=16 "$bin"
      grep -hE "^(kernel|CHECKS|TIME) " logs/wgmma-tma*.log >> "$summary"
      ;;
    sol)
      # Speed-of-light builds of the wgmma harness (kernels/attention/variants/wgmma/README.md):
      # fa_wg_sol1 (no K / V loads after the prologue), fa_wg_sol2 (no softmax); timings only.
      for n in 1 2; do
        [ -x ".device/wgmma/fa_wg_sol$n" ] || { note "sol: .device/wgmma/fa_wg_sol$n missing"; continue; }
        STEP_LIMIT=200 timed "wgmma-sol$n" ".device/wgmma/fa_wg_sol$n"
        grep -hE "^(CHECKS|TIME) " "logs/wgmma-sol$n.log" >> "$summary"
      done
      ;;
    wsprofile)
      # The warp-specialised wgmma prototype (fa_ws2i1p2_fwd_d64: two producer warps, one row
      # block per CTA) next to the shipped body (fa_wg_fwd_d64) under Nsight Compute, each at its first launch in the selfcheck
      # (canon_6): stall reasons, issue and pipe figures, then per-SASS-instruction samples.
      harness_profile wsprofile "fa_wg_fwd_d64 fa_ws2i1p2_fwd_d64" \
        --metrics "regex:smsp__pcsamp_warps_issue_stalled_.*" --section WarpStateStats \
        --section SchedulerStats --section InstructionStats --section SpeedOfLight \
        --section Occupancy --section LaunchStats
      ;;
    energyprobe)
      # NVML's energy counter, power reading and SM clock every 20 ms, idle / fp16 matmuls /
      # idle (scripts/nvml_energy_probe.py): the polls gpu-telemetry's energy estimate is
      # tested on (crates/telemetry/tests/fixtures/h100_energy_counter.csv).
      timed energyprobe python3 scripts/nvml_energy_probe.py
      awk -F, 'NR > 1 {n[$1]++} END {for (p in n) print "energyprobe polls", p, n[p]}' logs/energyprobe.log >> "$summary"
      ;;
    tmaprobe)
      # The racecheck probe on TMA / wgmma code (kernels/selftest/probes/tma_race.cu: fa_tc's
      # wgmma_tma body with the stage barrier skipped in block 0): does racecheck report the
      # missing barrier between the wgmmas' reads of a stage and its TMA refill; and does the
      # oracle see wrong output from it.
      c=kernels/selftest/probes/tma_race_canon_3.toml
      timed tmaprobe.oracle oracle --config "$c" --out artifacts-probe
      STEP_LIMIT=300 timed tmaprobe.racecheck compute-sanitizer --tool racecheck --racecheck-report all \
        --racecheck-detect-level warn --print-limit 100 --error-exitcode 0 -- oracle --config "$c" --single-launch
      grep -hE "RACECHECK SUMMARY|single launch done|^oracle " logs/tmaprobe.*.log >> "$summary"
      ;;
    hotn)
      # canon_6 with 1 and 200 launches per hot sample (the configs take 20): whether fa_tc's
      # hot-over-cold gap follows the graph's length (configs beside the TMA prototype; into
      # artifacts-hot/, not evidence), with the standard canon_6 bench in between.
      for c in hot_canon_6_n1 hot_canon_6_n200; do
        timed "hotn.bench.$c" bench --config "kernels/attention/variants/wgmma/$c.toml" --out artifacts-hot
      done
      timed "hotn.bench.canon_6" bench --config configs/canon_6.toml --out artifacts-hot --no-cublas
      grep -hE "fa_tc|sdpa_cudnn" logs/hotn.bench.*.log >> "$summary"
      tar czf "$OUT/hot.tgz" artifacts-hot 2>/dev/null
      ;;
    power)
      # Whether fa_tc's hot-over-cold gap at canon_6 is the SM clock: nvidia-smi polls clocks,
      # power and the clock-event reasons every 20 ms while fa_tc (bench, >= 4 s per mode) and
      # then cuDNN (scripts/sdpa_baseline.py, the same times) run, with 2 s idle around each;
      # logs/power.marks.log has the phase boundaries (epoch seconds). Not evidence.
      # cuDNN at canon_6 (H100: 50 MiB L2), sampled for at least 4 s per mode.
      cudnn_canon_6=(--batch 16 --heads 16 --seq-len 512 --head-dim 64 --warmup 20 --min-samples 10
        --hot-launches 20 --l2-bytes 52428800 --seed 1 --scale 0.125 --min-time 4 --timeout 6
        --target-rel-stdev 1e-9 --backends cudnn)
      fields=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_event_reasons.active
      nvidia-smi --query-gpu=$fields --format=csv -lms 20 > logs/power.smi.log 2>&1 &
      smi=$!
      mark() { echo "$1 $(date +%s.%N)" >> logs/power.marks.log; }
      : > logs/power.marks.log
      sleep 2; mark fa_tc.start
      timed power.bench bench --config kernels/attention/variants/wgmma/power_canon_6.toml --out artifacts-power
      mark fa_tc.end; sleep 2; mark cudnn.start
      timed power.cudnn python3 scripts/sdpa_baseline.py "${cudnn_canon_6[@]}"
      mark cudnn.end; sleep 2
      # Cold samples after an L2 flush that leaves dirty lines (zeroing, not reading, the
      # flush buffer), as a hot launch finds the previous launch's O: is that the gap?
      mark fa_tc.write.start
      timed power.bench.write bench --config kernels/attention/variants/wgmma/power_canon_6.toml --out artifacts-power-write --l2-flush write
      mark fa_tc.write.end; sleep 2; mark cudnn.write.start
      timed power.cudnn.write python3 scripts/sdpa_baseline.py "${cudnn_canon_6[@]}" --modes cold --l2-flush write
      mark cudnn.write.end; sleep 1
      kill $smi; wait $smi 2>/dev/null
      grep -hE "fa_tc" logs/power.bench.log logs/power.bench.write.log >> "$summary"
      for f in logs/power.cudnn.log logs/power.cudnn.write.log; do
        python3 - "$f" >> "$summary" <<'PY'
import json, statistics, sys
for b in json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["baselines"]:
    print(sys.argv[1], b["name"], b["mode"], "p50 %.2f us" % statistics.median(b["samples_us"]), len(b["samples_us"]), "samples")
PY
      done
      ;;
    tmaprofile)
      # The TMA prototype's body (fa_tma_ns2_fwd_d64, 5 CTAs/SM) under Nsight Compute at its
      # first launch in the selfcheck (canon_6), as wsprofile: stall reasons, issue and pipe
      # figures, then per-SASS-instruction samples.
      # (A subshell: FA_WG_ONLY, which narrows the harness run, stays out of later stages.)
      (
        export FA_WG_ONLY=${FA_WG_ONLY:-fa_tma_ns2}
        harness_profile tmaprofile "${PROFILE_KERNELS:-fa_tma_ns2_fwd_d64}" \
          --metrics "regex:smsp__pcsamp_warps_issue_stalled_.*,sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active,sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active,sm__pipe_fma_cycles_active.avg.pct_of_peak_sustained_active,lts__t_bytes.sum" \
          --section WarpStateStats --section SchedulerStats --section InstructionStats \
          --section SpeedOfLight --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis
      )
      ;;
    sanitizer4)
      # The D = 128 launches (canon_4: the mma.sync default and, on sm_90a, wgmma_d128): every
      # tool, one launch each at the config's full shape, so a longer limit per run.
      STEP_LIMIT=560 timed sanitizer.canon_4 sanitizer-gate --config configs/canon_4.toml --timeout-s 240
      ;;
    benchlaunch)
      # fa_tc's default launch (mma.sync) where the config selects a wgmma launch, timed
      # against the same baselines (`bench --launch`), into artifacts-launch/ (not evidence).
      for n in 4 6; do
        timed "bench.canon_$n.default-launch" bench --config "configs/canon_$n.toml" \
          --kernel kernels/attention/fa_tc.toml --launch default --out artifacts-launch
      done
      tar czf "$OUT/launch.tgz" artifacts-launch 2>/dev/null
      ;;
    bench)
      for n in 1 2 3 4 5 6; do timed "bench.canon_$n" bench --config "configs/canon_$n.toml"; done
      ;;
    variants)
      # fa_tc against its variants (kernels/attention/variants), oracle then bench, into
      # artifacts-variants/ (the committed evidence of the shipped kernels stays as it is).
      ks=(--kernel kernels/attention/fa_tc.toml)
      for v in kernels/attention/variants/*.toml; do ks+=(--kernel "$v"); done
      for n in 1 2 3 4 5 6; do timed "variants.oracle.canon_$n" oracle --config "configs/canon_$n.toml" "${ks[@]}" --out artifacts-variants; done
      grep -h -E "^oracle canon_" logs/variants.oracle.*.log >> "$summary"
      for n in 3 2 6 4; do timed "variants.bench.canon_$n" bench --config "configs/canon_$n.toml" "${ks[@]}" --out artifacts-variants --no-cublas; done
      for n in 3 2 6 4; do grep -E "fa_tc|sdpa_cudnn|sdpa_flash" "logs/variants.bench.canon_$n.log" | sed "s/^/canon_$n /" >> "$summary"; done
      tar czf "$OUT/variants.tgz" artifacts-variants logs/variants.* 2>/dev/null
      ;;
    smallgrid)
      # The D=64 small-grid variants (v6, v7) against v5 and v4, oracle then bench, into
      # artifacts-variants/ (the committed evidence stays as it is).
      ks=(--kernel kernels/attention/fa_tc.toml)
      for v in v4 v6 v7; do ks+=(--kernel "kernels/attention/variants/fa_tc_$v.toml"); done
      for n in 3 2 6 5 1; do timed "smallgrid.oracle.canon_$n" oracle --config "configs/canon_$n.toml" "${ks[@]}" --out artifacts-variants; done
      grep -h -E "^oracle canon_" logs/smallgrid.oracle.*.log >> "$summary"
      for n in 3 2 6; do timed "smallgrid.bench.canon_$n" bench --config "configs/canon_$n.toml" "${ks[@]}" --out artifacts-variants --no-cublas; done
      for n in 3 2 6; do grep -E "│ *(fa_tc[_a-z0-9]*|\[baseline\] torch_sdpa_cudnn) +│" "logs/smallgrid.bench.canon_$n.log" | sed "s/^/canon_$n /" >> "$summary"; done
      tar czf "$OUT/variants.tgz" artifacts-variants logs/smallgrid.* 2>/dev/null
      ;;
    verify3)
      # The main job end to end on canon_3, into its own folder (the evidence above stays).
      timed verify.canon_3 cudadent --config configs/canon_3.toml --out artifacts-verify verify
      tail -12 logs/verify.canon_3.log >> "$summary"
      ;;
    bench3)
      timed bench.canon_3 bench --config configs/canon_3.toml
      timed bench.canon_3.again bench --config configs/canon_3.toml --out artifacts-again
      tail -25 logs/bench.canon_3.log >> "$summary"
      ;;
    again)
      # A second bench of canon_3 right after the `bench` stage's: run-to-run agreement.
      timed bench.canon_3.again bench --config configs/canon_3.toml --out artifacts-again
      grep -E "│ *(fa_tc|fa_s512_v3) +│" logs/bench.canon_3.log logs/bench.canon_3.again.log >> "$summary"
      tar czf "$OUT/again.tgz" artifacts-again 2>/dev/null
      ;;
    againsmall)
      # Two more benches of canon_3 and canon_2 (the one-CTA-per-SM shapes, whose cold ratio
      # sits near issue 10's 1.25x) after the `bench` stage's: run-to-run spread.
      for r in 1 2; do
        for n in 3 2; do timed "bench.canon_$n.again$r" bench --config "configs/canon_$n.toml" --out "artifacts-again$r"; done
      done
      grep -hE "^bench canon_" logs/bench.canon_[23].again[12].log >> "$summary"
      tar czf "$OUT/again.tgz" artifacts-again1 artifacts-again2 2>/dev/null
      ;;
    spread3)
      # ROUNDS (default 6) more benches of canon_3 alone, one after another: the run-to-run
      # spread of its cold ratio, which sits nearest issue 10's 1.25x bar.
      for r in $(seq 1 "${ROUNDS:-6}"); do
        timed "bench.canon_3.spread$r" bench --config configs/canon_3.toml --out "artifacts-spread$r"
      done
      grep -hE "^bench canon_|│ *(fa_tc|\[baseline\] torch_sdpa_cudnn) +│ cold" logs/bench.canon_3.spread*.log >> "$summary"
      ;;
    icache)
      # fa_tc's shipped wgmma_ks2 body (v20) against others with the same launch rule
      # (ICACHE_KERNELS, manifests under kernels/attention; default v18's and v19's bodies) at
      # canon_3. Nsight Compute's duration of the entry's 3rd-5th launch in an
      # oracle run, with every cache invalidated before each (ncu's default, `all`: L2 and the
      # SMs' instruction caches) or none; the warp-state section of one such launch; and
      # the bench's cold mode (L2 flushed by a kernel) of all of them in one process.
      read -r -a ms <<< "${ICACHE_KERNELS:-fa_tc variants/fa_tc_v18 variants/fa_tc_v19}"
      kargs=()
      for m in "${ms[@]}"; do
        k=$(basename "$m")
        kargs+=(--kernel "kernels/attention/$m.toml")
        for cc in all none; do
          timeout -k 5 120 ncu --clock-control none --cache-control "$cc" --metrics gpu__time_duration.sum \
            -k regex:'wgmma_ks2$' --launch-skip 2 --launch-count 3 \
            oracle --config configs/canon_3.toml --kernel "kernels/attention/$m.toml" --out "artifacts-icache-$k-$cc" 2>&1 | ncu_lines > "logs/icache.$k.$cc.log"
          grep -E "gpu__time_duration.sum" "logs/icache.$k.$cc.log" | sed "s/^/ncu $k $cc /" >> "$summary"
          grep -E "^oracle canon_" "logs/icache.$k.$cc.log" >> "$summary"
        done
        timeout -k 5 120 ncu --clock-control none --section WarpStateStats --section SpeedOfLight \
          -k regex:'wgmma_ks2$' --launch-skip 2 --launch-count 1 \
          oracle --config configs/canon_3.toml --kernel "kernels/attention/$m.toml" --out "artifacts-icache-$k-stalls" 2>&1 | ncu_lines > "logs/icache.$k.stalls.log"
      done
      # cuDNN's SDPA kernel the same way (the script calls it three times).
      for cc in all none; do
        timeout -k 5 120 ncu --clock-control none --cache-control "$cc" --metrics gpu__time_duration.sum \
          -k regex:'sdpa|fprop|fmha|flash|attn' --launch-skip 1 --launch-count 2 \
          python3 scripts/sdpa_profile.py 2 8 512 64 0 cudnn 2>&1 | ncu_lines > "logs/icache.cudnn.$cc.log"
        grep -E "gpu__time_duration.sum" "logs/icache.cudnn.$cc.log" | sed "s/^/ncu cudnn $cc /" >> "$summary"
      done
      for r in 1 2; do
        timed "icache.bench.r$r" bench --config configs/canon_3.toml "${kargs[@]}" --no-torch --no-cublas --out "artifacts-icache$r"
        grep -E "│ *fa_tc[a-z0-9_]* +│" "logs/icache.bench.r$r.log" >> "$summary"
      done
      tar czf "$OUT/icache.tgz" logs/icache.* 2>/dev/null
      ;;
    icachebench)
      # The bench's cold mode with and without `--icache-flush` (the SMs' instruction caches
      # evicted before every cold sample, for the kernels and the SDPA baselines alike), for
      # fa_tc and the bodies of stage `icache` at canon_3, in one call.
      for f in off on; do
        extra=(); [ "$f" = on ] && extra=(--icache-flush)
        timed "icachebench.$f" bench --config configs/canon_3.toml --kernel kernels/attention/fa_tc.toml \
          --kernel kernels/attention/variants/fa_tc_v18.toml --kernel kernels/attention/variants/fa_tc_v19.toml \
          --mode cold --no-cublas "${extra[@]}" --out "artifacts-icachebench-$f"
        grep -E "│ *(fa_tc[a-z0-9_]*|\[baseline\] [a-z_]+) +│|launch floor" "logs/icachebench.$f.log" >> "$summary"
      done
      tar czf "$OUT/icachebench.tgz" logs/icachebench.* artifacts-icachebench-* 2>/dev/null
      ;;
    againbig)
      # Three more benches of canon_6 and one of canon_4 (the shapes that run into the board's
      # power limit hot) after the `bench` stage's: run-to-run spread of their hot ratios.
      for r in 1 2 3; do timed "bench.canon_6.again$r" bench --config configs/canon_6.toml --out "artifacts-again$r"; done
      timed bench.canon_4.again1 bench --config configs/canon_4.toml --out artifacts-again1
      grep -hE "^bench canon_" logs/bench.canon_[64].again[123].log >> "$summary"
      tar czf "$OUT/again.tgz" artifacts-again1 artifacts-again2 artifacts-again3 2>/dev/null
      ;;
    agreement)
      # The bench's cold p50 against Nsight Compute's duration (ncu flushes and invalidates
      # the caches before each kernel, clocks left alone), for both kernels at canon_3, with
      # each L2 flush of the bench: read (clean L2, the default) and write (memset, dirty).
      for k in fa_tc fa_s512_v3; do
        for f in read write; do
          timed "agree.bench.$k.$f" bench --config configs/canon_3.toml --kernel "kernels/attention/$k.toml" \
            --mode cold --no-torch --no-cublas --l2-flush "$f" --out "artifacts-agree/$k-$f"
          grep -E "│ *$k +│|launch floor" "logs/agree.bench.$k.$f.log" | sed "s/^/$f /" >> "$summary"
        done
        for i in $(seq 1 10); do
          timeout -k 5 60 ncu --clock-control none --metrics gpu__time_duration.sum \
            oracle --config configs/canon_3.toml --kernel "kernels/attention/$k.toml" --single-launch
        done 2>&1 | ncu_lines > "logs/ncu.$k.canon_3.log"
        grep -E "gpu__time_duration.sum" "logs/ncu.$k.canon_3.log" | sed "s/^/ncu $k /" >> "$summary"
      done
      tar czf "$OUT/agree.tgz" artifacts-agree 2>/dev/null
      ;;
    resources)
      STEP_LIMIT=600 timed resources scripts/device-resources.sh
      cat logs/resources.log >> "$summary"
      ;;
    hardening)
      STEP_LIMIT=600 timed hardening scripts/device-hardening.sh
      grep -E "^(PASS|FAIL) " logs/hardening.log >> "$summary"
      ;;
    ncu)
      # Nsight Compute's view of fa_tc's duration at canon_3 (clocks left alone), to compare
      # with the bench's cold p50: ten single-launch processes, one kernel each.
      for i in $(seq 1 10); do
        timeout -k 5 60 ncu --clock-control none --metrics gpu__time_duration.sum \
          oracle --config configs/canon_3.toml --kernel kernels/attention/fa_tc.toml --single-launch
      done > logs/ncu.fa_tc.canon_3.log 2>&1
      grep -E "gpu__time_duration.sum" logs/ncu.fa_tc.canon_3.log >> "$summary"
      ;;
    sancontrols)
      for pair in racecheck:sync_race_smem synccheck:divergent_barrier; do
        tool=${pair%%:*}; k=${pair##*:}
        extra=(); [ "$tool" = racecheck ] && extra=(--racecheck-report all)
        timed "cs.$tool.$k" compute-sanitizer --tool "$tool" "${extra[@]}" --print-limit 10000 --show-backtrace no \
          oracle --config configs/canon_1.toml --kernel "kernels/selftest/$k.toml" --single-launch
      done
      ;;
    selfcheck)
      nvcc -arch=sm_90 -O2 -o /tmp/fa_tc_selfcheck kernels/attention/fa_tc_selfcheck.cu > logs/selfcheck-build.log 2>&1
      timed fa_tc_selfcheck /tmp/fa_tc_selfcheck
      tail -5 logs/fa_tc_selfcheck.log >> "$summary"
      ;;
    wgmma)
      # The sm_90a wgmma prototype (kernels/attention/variants/wgmma): built here with the
      # machine's nvcc, checked and timed by its own host harness against fa_tc.
      # A selfcheck prebuilt on the CPU machine (.device/wgmma/fa_wg_selfcheck) runs as is.
      pre=(); [ -x .device/wgmma/fa_wg_selfcheck ] && pre=(env FA_WG_SELFCHECK_BIN=.device/wgmma/fa_wg_selfcheck)
      STEP_LIMIT=300 timed wgmma "${pre[@]}" bash kernels/attention/variants/wgmma/run.sh logs/wgmma
      grep -hE "^(CHECK|TIME|HGMMA|ptxas)" logs/wgmma/*.log >> "$summary" 2>/dev/null
      ;;
    pingpong|parts)
      # v19: the prebuilt harness (.device/wgmma/fa_wg_selfcheck) on the entries of ONLY,
      # ROUNDS runs in a row (each: every check, then hot / cold timings of every shape of
      # D = 64). Stage pingpong ran the first ping-pong body (fa_ks2pp, fa_ks2ppl: logs
      # pingpong.r*); stage parts runs fa_wg_parts.cuh's entries against wgmma_ks2's body.
      only=${ONLY:-fa_ks2n128eo,fa_ks2xp,fa_ks2x}
      bin=.device/wgmma/fa_wg_selfcheck
      for r in $(seq 1 "${ROUNDS:-3}"); do
        STEP_LIMIT=240 timed "$stage.r$r" env FA_WG_ONLY="$only" "$bin"
        grep -hE "^(CHECKS|CHECK .*FAIL|TIME canon_[1235][(])" "logs/$stage.r$r.log" >> "$summary"
      done
      ;;
    partsync)
      # v19: compute-sanitizer synccheck and racecheck over the harness's checks (no timings)
      # of the entries of ONLY (default: fa_tc's wgmma_ks2 body of v19 and of v12).
      only=${ONLY:-fa_ks2xp,fa_ks2n128eo}
      for tool in synccheck racecheck; do
        STEP_LIMIT=200 timed "partsync.$tool" env FA_WG_ONLY="$only" FA_WG_CHECK_ONLY=1 \
          compute-sanitizer --tool "$tool" --error-exitcode 9 .device/wgmma/fa_wg_selfcheck
        grep -hE "^(CHECKS|=+ (ERROR SUMMARY|RACECHECK SUMMARY))" "logs/partsync.$tool.log" >> "$summary"
      done
      ;;
    trace)
      # v19: the phase marks of the key-part bodies at canon_3, hot and cold (prebuilt
      # .device/wgmma/fa_wg_trace; kernels/attention/variants/wgmma/fa_wg_trace.cu).
      STEP_LIMIT=120 timed trace .device/wgmma/fa_wg_trace "${SAMPLES:-40}"
      cat logs/trace.log >> "$summary"
      ;;
    sustain)
      # Harness entries against each other at canon_6's power limit (NOTES.md v16, v17; v17
      # ran it as stage `share` on the shared-stage prototype of 8c99b82).
      # 1. The prebuilt harness (.device/wgmma/fa_wg_selfcheck) on the entries of ONLY:
      #    every check, the standard hot / cold timings (below the power limit at canon_6).
      # 2. The order-free sustained comparison at the power limit: each entry in a process of
      #    its own (checks again, then canon_6 at B = 16, FA_WG_SUSTAIN repetitions of 200
      #    launches), entries and cuDNN (hot, 2 s) interleaved over ROUNDS rounds, nvidia-smi
      #    beside them (v16's method). Not evidence.
      only=${ONLY:-fa_tma_ns2,fa_tma_o4}
      bin=.device/wgmma/fa_wg_selfcheck
      STEP_LIMIT=240 timed sustain.selfcheck env FA_WG_ONLY="$only" "$bin"
      grep -hE "^(CHECKS|CHECK .*FAIL|TIME canon_6)" logs/sustain.selfcheck.log >> "$summary"
      fields=timestamp,clocks.sm,power.draw,clocks_event_reasons.active
      nvidia-smi --query-gpu=$fields --format=csv -lms 50 > logs/sustain.smi.log 2>&1 &
      smi=$!
      for r in $(seq 1 "${ROUNDS:-2}"); do
        for e in ${only//,/ }; do
          echo "$(date +%s.%N) start $e round $r" >> logs/sustain.marks.log
          STEP_LIMIT=120 timed "sustain.$e.r$r" env FA_WG_ONLY="$e" FA_WG_SWEEP=16 FA_WG_SUSTAIN="${FA_WG_SUSTAIN:-100}" "$bin"
        done
        echo "$(date +%s.%N) start cudnn round $r" >> logs/sustain.marks.log
        timed "sustain.cudnn.r$r" python3 scripts/sdpa_baseline.py --batch 16 --heads 16 --seq-len 512 \
          --head-dim 64 --warmup 20 --min-samples 10 --hot-launches 20 --l2-bytes 52428800 --seed 1 \
          --scale 0.125 --min-time 2 --timeout 4 --target-rel-stdev 1e-9 --backends cudnn --modes hot
      done
      echo "$(date +%s.%N) end" >> logs/sustain.marks.log
      kill $smi; wait $smi 2>/dev/null
      grep -hE "^(CHECKS|TIME sweep)" logs/sustain.fa_*.log | sed 's/ (hot reps.*//' >> "$summary"
      for f in logs/sustain.cudnn.r*.log; do
        python3 - "$f" >> "$summary" <<'PY'
import json, statistics, sys
for b in json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["baselines"]:
    print(sys.argv[1], b["name"], b["mode"], "p50 %.2f us" % statistics.median(b["samples_us"]), len(b["samples_us"]), "samples")
PY
      done
      ;;
    profile)
      # Nsight Compute's full section set for fa_tc's launch at canon_6 (wgmma) and canon_4
      # (mma.sync D = 128) and for cuDNN's SDPA kernel at the same shapes: stall reasons,
      # pipe utilisation, occupancy, and the launch configuration cuDNN chose.
      sections=("${profile_sections[@]}"
        --metrics sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active,sm__pipe_fma_cycles_active.avg.pct_of_peak_sustained_active,l1tex__data_pipe_lsu_wavefronts_mem_shared.sum,lts__t_bytes.sum)
      for n in 6 4; do
        STEP_LIMIT=180 timed "profile.fa_tc.canon_$n" ncu --clock-control none "${sections[@]}" -k regex:fa_tc \
          oracle --config "configs/canon_$n.toml" --kernel kernels/attention/fa_tc.toml --single-launch
      done
      STEP_LIMIT=180 timed profile.cudnn.canon_6 ncu --clock-control none "${sections[@]}" -k regex:'sdpa|fprop|fmha|flash|attn' --launch-skip 2 --launch-count 1 \
        python3 scripts/sdpa_profile.py 16 16 512 64 0 cudnn
      STEP_LIMIT=180 timed profile.cudnn.canon_4 ncu --clock-control none "${sections[@]}" -k regex:'sdpa|fprop|fmha|flash|attn' --launch-skip 2 --launch-count 1 \
        python3 scripts/sdpa_profile.py 4 16 2048 128 1 cudnn
      for f in logs/profile.*.log; do ncu_lines < "$f" > "$f.tmp" && mv "$f.tmp" "$f"; done
      ;;
    *) note "unknown stage $stage" ;;
  esac
done
tar czf "$OUT/logs.tgz" logs
[ -d artifacts ] && tar czf "$OUT/artifacts.tgz" artifacts
cat "$summary"
