#!/usr/bin/env bash
# apt-get debian-packages.txt, and the packages named on the command line (the image adds python3,
# tini...). For images and root shells; scripts/setup.mjs installs the same list on a dev machine.
set -euo pipefail
list="$(dirname "$0")/debian-packages.txt"
mapfile -t packages < <(sed -e 's/#.*//' -e '/^\s*$/d' "$list" | tr -d ' ')
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" "$@"
rm -rf /var/lib/apt/lists/*
