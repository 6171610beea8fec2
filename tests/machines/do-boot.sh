#!/usr/bin/env bash
# tests/machines/do-boot.sh - the DigitalOcean stand-in's boot hook
# (tests/digitalocean/standin.py --boot): a droplet is a test machine.
#   do-boot.sh create ID NAME SEED_DIR  start machine do-ID with the NoCloud seed the
#                                       stand-in wrote (cloud-init puts the account's
#                                       key in, as on DigitalOcean); print its address
#   do-boot.sh delete ID NAME           remove it
# Droplet ID gets 10.87.0.(150 + ID % 50): the upper half of the machines'
# network, and outside the ssh suite's addresses.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
case "$1" in
    create)
        ip="10.87.0.$((150 + $2 % 50))"
        machine_start "do-$2" "$ip" "$4" >&2
        echo "$ip" ;;
    delete)
        machine_rm "do-$2" >&2 ;;
    *) echo "usage: do-boot.sh create ID NAME SEED_DIR | delete ID NAME" >&2; exit 2 ;;
esac
