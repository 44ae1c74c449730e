#!/usr/bin/env bash
# Installs the Debian packages that the integration tests drive for real, when they are
# missing and we are root. Without root, the tests that need them are skipped with the
# reason (and fail under CI=true, so CI never passes by skipping).
set -euo pipefail
need=()
# command -> Debian package
declare -A packages=([prometheus]=prometheus [docker-registry]=docker-registry [wrk]=wrk)
for cmd in "${!packages[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || need+=("${packages[$cmd]}")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing system packages (${need[*]}); their tests will be skipped" >&2
  exit 0
fi
echo "installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
