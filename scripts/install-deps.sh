#!/usr/bin/env bash
# Installs the Debian 12 packages vtag builds and tests against. Safe to run again.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
PKGS=(
  pkg-config
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libavdevice-dev
  libv4l-dev
  libopenblas-dev
  libjpeg62-turbo-dev libpng-dev zlib1g-dev
  ffmpeg
  python3 python3-numpy bc
  nginx
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
