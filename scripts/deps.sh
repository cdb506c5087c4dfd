#!/usr/bin/env bash
# Installs what Cairn's tests need when it is missing, and says nothing when
# everything is present:
#   etcdctl (Debian etcd-client)  - the etcdctl compatibility tests
#   etcd    (Debian etcd-server)  - CAIRN_COMPAT_TARGET=etcd, benchmarks against etcd, and
#                                   the alert rules test/prometheus loads
#   prometheus (Debian prometheus) - test/prometheus scrapes a cluster with it
#   slapd   (Debian slapd)        - LDAP tests start their own slapd on loopback; the package's
#                                   own service is never started
#   systemd-analyze (Debian systemd) - test/packaging verifies deploy/cairnd.service with it
#   docker-compose (Debian docker-compose) - test/image brings deploy/docker-compose.yml up
#   chromium (Debian chromium)    - test/ui drives the dashboard in headless chromium (chromedp)
#   fish, bash-completion         - the shell completion tests run the generated scripts in
#                                   real shells (bash needs bash-completion's helpers)
# Runs as root without sudo, or through sudo otherwise. Fails with a clear
# message when a tool is missing and apt cannot install it.
set -euo pipefail

export PATH=$PATH:/usr/sbin
declare -A want=([etcdctl]=etcd-client [etcd]=etcd-server [prometheus]=prometheus [slapd]=slapd
	[systemd-analyze]=systemd [docker-compose]=docker-compose [chromium]=chromium [fish]=fish)
missing=()
for bin in "${!want[@]}"; do
	command -v "$bin" >/dev/null 2>&1 || missing+=("${want[$bin]}")
done
bash_completion=/usr/share/bash-completion/bash_completion
[ -f "$bash_completion" ] || missing+=(bash-completion)
[ ${#missing[@]} -eq 0 ] && exit 0

die() { echo "scripts/deps.sh: $*" >&2; exit 1; }

command -v apt-get >/dev/null 2>&1 ||
	die "missing ${missing[*]} and apt-get is not available; install etcd 3.4's etcdctl and etcd by hand (put them on PATH)"

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || die "missing ${missing[*]}: not root and no sudo to run apt-get"
	sudo=(sudo -n)
fi

echo "scripts/deps.sh: installing ${missing[*]}" >&2
# Another apt/dpkg may hold the lock (unattended upgrades, a parallel job): wait for it.
apt_opts=(-o DPkg::Lock::Timeout=300 -qq)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get "${apt_opts[@]}" update >/dev/null ||
	die "apt-get update failed"
# Packaged daemons (slapd, prometheus) must not start and listen on every interface: the
# tests start their own on loopback. policy-rc.d tells the packages' scripts not to start them.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null && "${sudo[@]}" chmod +x "$policy" && made_policy=1
fi
rc=0
"${sudo[@]}" apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
[ "$made_policy" = 1 ] && "${sudo[@]}" rm -f "$policy"
[ "$rc" = 0 ] || die "apt-get install ${missing[*]} failed"

for bin in "${!want[@]}"; do
	command -v "$bin" >/dev/null 2>&1 || die "$bin still missing after installing ${missing[*]}"
done
[ -f "$bash_completion" ] || die "$bash_completion still missing after installing ${missing[*]}"
