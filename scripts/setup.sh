#!/usr/bin/env bash
# Installs what kiln needs on Debian 12 (apt-get; sudo when not root). Safe to re-run.
set -euo pipefail
pkgs=(cmake ninja-build g++ pkg-config libeigen3-dev libcereal-dev libgtest-dev zlib1g-dev
      libvulkan-dev glslang-dev glslang-tools spirv-tools mesa-vulkan-drivers)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "[setup] installing: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
