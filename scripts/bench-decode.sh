#!/bin/sh
# Decode benchmark: a 60 s 1080p H.264 file made with the ffmpeg CLI, decoded by `vtag probe --bench`
# (all frames; all frames + 384×384 conversion; 1 fps sampled + conversion; key frames + conversion) and by
# `ffmpeg -i F -f null -` in the same run. Rates are multiples of real time (60 s of video / wall-clock seconds).
#
#   scripts/bench-decode.sh [VTAG_BINARY]     (default: .build/release/vtag; build it with `swift build -c release`)
set -eu
VTAG=${1:-.build/release/vtag}
DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/vtag-bench}
FILE="$DIR/bench_1080p_60s.mp4"
mkdir -p "$DIR"
if [ ! -s "$FILE" ]; then
  echo "generating $FILE (60 s, 1920x1080, 30 fps, H.264 superfast, GOP 60) ..." >&2
  ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=1920x1080:rate=30 -t 60 \
    -c:v libx264 -preset superfast -g 60 -pix_fmt yuv420p "$FILE"
fi
now() { date +%s.%N; }
t0=$(now)
ffmpeg -nostdin -v error -i "$FILE" -f null -
t1=$(now)
echo "{\"mode\":\"ffmpeg_cli_null\",\"seconds\":$(echo "$t1 - $t0" | bc -l | xargs printf '%.3f'),\"realtime_multiple\":$(echo "60 / ($t1 - $t0)" | bc -l | xargs printf '%.2f')}"
t0=$(now)
ffmpeg -nostdin -v error -i "$FILE" -vf fps=1,scale=384:384:flags=bilinear -pix_fmt rgb24 -f null -
t1=$(now)
echo "{\"mode\":\"ffmpeg_cli_fps1_scale384\",\"seconds\":$(echo "$t1 - $t0" | bc -l | xargs printf '%.3f'),\"realtime_multiple\":$(echo "60 / ($t1 - $t0)" | bc -l | xargs printf '%.2f')}"
"$VTAG" probe --bench "$FILE"
