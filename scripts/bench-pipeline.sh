#!/bin/sh
# Pipeline benchmark (issue: performance): tags a SECONDS-long 1080p H.264 file made with the ffmpeg CLI
# at 1 frame per second with MODEL_DIR, and reports the wall time, the time spent in forward passes on
# the inference thread, and the pipeline overhead over the pure forward time; then the decode rates with
# tagging off (`vtag probe --bench`, which includes the 1 fps sampled decode) next to the ffmpeg CLI.
#
#   scripts/bench-pipeline.sh MODEL_DIR [SECONDS=600] [VTAG_BINARY=.build/release/vtag]
#   (full-size models: vtag models synth --preset ram_plus_swin_large_14m -o DIR)
set -eu
MODEL=${1:?usage: scripts/bench-pipeline.sh MODEL_DIR [SECONDS] [VTAG]}
SECONDS_LONG=${2:-600}
VTAG=${3:-.build/release/vtag}
DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/vtag-bench}
FILE="$DIR/bench_1080p_${SECONDS_LONG}s.mp4"
mkdir -p "$DIR"
if [ ! -s "$FILE" ]; then
  echo "generating $FILE ($SECONDS_LONG s, 1920x1080, 30 fps, H.264 superfast, GOP 60) ..." >&2
  ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=1920x1080:rate=30 -t "$SECONDS_LONG" \
    -c:v libx264 -preset superfast -g 60 -pix_fmt yuv420p "$FILE"
fi
echo "== tagging at 1 fps with $MODEL" >&2
"$VTAG" tag "$FILE" --model "$MODEL" --every 1s -o "$DIR/pipeline" --format jsonl 2>"$DIR/pipeline.log" || {
  cat "$DIR/pipeline.log" >&2
  exit 1
}
tail -2 "$DIR/pipeline.log" | tr -d '\r'
echo "== decoding with tagging off" >&2
now() { date +%s.%N; }
t0=$(now)
ffmpeg -nostdin -v error -i "$FILE" -f null -
t1=$(now)
echo "{\"mode\":\"ffmpeg_cli_null\",\"seconds\":$(echo "$t1 - $t0" | bc -l | xargs printf '%.3f'),\"realtime_multiple\":$(echo "$SECONDS_LONG / ($t1 - $t0)" | bc -l | xargs printf '%.2f')}"
"$VTAG" probe --bench "$FILE"
