#!/usr/bin/env bash
# The control plane on etcd (issue 15): the main control-plane e2e suites again, with every
# control plane the harness starts keeping its state in a real etcd (BREAKOUT_TEST_STORE=etcd;
# tests/src/etcd.rs starts etcd on 127.0.0.1 with free ports and a temp dir). etcd-server,
# etcd-client (etcdctl) and protobuf-compiler are in .ci/run's package list, since the build
# needs protoc. Measured on the 2-core machine: about 3 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
# `--workspace` (not `-p breakout-tests`): the same package selection as `cargo test --workspace`
# in .ci/run, so the same features are unified and nothing is rebuilt (with `-p` cargo resolves
# the dependencies' features for one package and rebuilt hyper, tonic, openraft… for 2+ minutes).
BREAKOUT_TEST_STORE=etcd cargo test --locked --workspace \
  --test distribution --test integration_api --test list_update --test webhooks \
  --test templates --test template_instances --test capacity --test capacity_failover
echo "etcd-parameterised e2e suites: $(( $(date +%s) - started )) s"
