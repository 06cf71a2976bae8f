#!/usr/bin/env bash
# Install the Debian packages the integration and end-to-end tests need, when missing.
# Idempotent: does nothing (and needs no network) when everything is already installed.
set -euo pipefail

PACKAGES=(
  openvswitch-switch
  python3-scapy
  iperf3
  netcat-openbsd
  iputils-ping
  tcpdump
  ethtool
  iproute2
  etcd-server
  python3-openstackclient
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "ensure-deps: all test packages present"
  exit 0
fi

echo "ensure-deps: installing ${missing[*]}"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"

# The Debian package starts the system OVS on install; the tests run private instances
# and need nothing from it. Leave the service as the package configured it.
