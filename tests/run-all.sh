#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine: installs what the tests need, then
# runs cargo test. As root (apt); without root the package step is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    # Backends the integration tests start on loopback ports (slapd for the LDAP connector's
    # tests; the SQLite quickstart is built in). policy-rc.d-less machines may start the
    # system slapd: the tests never use it (their own instances run on free ports).
    # openssl issues the throwaway CA and server certificates of the TLS tests.
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q python3 python3-venv slapd ldap-utils openssl >/dev/null
fi
# The LDAP tests (tests/ldap, the contract suite's ldap fixtures) fail instead of skipping
# when slapd is missing.
export SCIMGATE_REQUIRE_LDAP=1

# The independent SCIM conformance checker, in a virtualenv of its own (Debian's python
# refuses system-wide pip installs).
venv=target/conformance-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "scim2-tester[httpx2]==0.5.2"
export SCIMGATE_PYTHON="$PWD/$venv/bin/python"
export SCIMGATE_REQUIRE_CONFORMANCE=1

cargo test --all-targets --features connector-ldap "$@"
