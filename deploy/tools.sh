#!/usr/bin/env bash
# Installs the non-Python tools the tests use, from Debian's packages, when they are missing:
# promtool and prometheus (rules tests, real-Prometheus query tests), amtool (Alertmanager
# config check), chromium (status page check), gcc and Python's headers (the compiled core).
# Idempotent and quiet when all are there.
set -euo pipefail
need=()
command -v promtool >/dev/null && command -v prometheus >/dev/null || need+=(prometheus)
command -v amtool >/dev/null || need+=(prometheus-alertmanager)
command -v chromium >/dev/null || need+=(chromium)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
# gcc and Python's headers: deploy/native.sh compiles the SLA core with mypyc
command -v gcc >/dev/null || need+=(gcc)
include=$(${PYTHON:-python3} -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
[[ -f "$include/Python.h" ]] || need+=(python3-dev)
(( ${#need[@]} == 0 )) && exit 0
sudo=""
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null || { echo "tools.sh: need root or sudo to install: ${need[*]}"; exit 1; }
  sudo="sudo"
fi
echo "tools.sh: installing ${need[*]} (Debian packages)"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
