#!/usr/bin/env bash
# Install what crm needs to build, test, demo and benchmark, from apt only.
# Idempotent and quiet when everything is present.
set -euo pipefail

PACKAGES=(
	build-essential clang libclang-rt-14-dev valgrind
	postgresql-15 postgresql-server-dev-15 postgresql-contrib
	postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
	postgresql-15-cron
	libphonenumber-dev libprotobuf-dev libicu-dev libpsl-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Debian's postgresql-common would create and start a system cluster; we only
# want the binaries, our scripts run throwaway clusters of their own.
if [ ! -e /etc/postgresql-common/createcluster.d/crm.conf ]; then
	$sudo mkdir -p /etc/postgresql-common/createcluster.d
	echo 'create_main_cluster = false' | $sudo tee /etc/postgresql-common/createcluster.d/crm.conf >/dev/null
fi
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
