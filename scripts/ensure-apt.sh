#!/usr/bin/env bash
# Installs the given Debian packages, but only those not installed yet:
# `apt-get update` runs only when something is missing.
#   scripts/ensure-apt.sh make gcc postgresql ...
set -euo pipefail

missing=()
for p in "$@"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
((${#missing[@]})) || exit 0

SUDO=()
[[ "$(id -u)" == 0 ]] || SUDO=(sudo)
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
