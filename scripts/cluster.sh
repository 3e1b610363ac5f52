#!/bin/sh
# Two nodes on one PostgreSQL behind nginx, on loopback (see scripts/cluster.mjs). Ctrl-C stops all by PID.
cd "$(dirname "$0")/.." && exec node --import tsx scripts/cluster.mjs
