#!/usr/bin/env bash
# Installs every build, test and benchmark dependency of Portcullis from Debian 12 packages.
# Idempotent: packages already present are skipped quickly. Needs root (or sudo).
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config clang-format git
  # libraries
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev openssl libsodium-dev libargon2-dev libcrypt-dev libsqlite3-dev sqlite3
  libcli11-dev libtomlplusplus-dev libpq-dev libqrencode-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # the Python binding of the verifier (src/python) and its FastAPI tests (TestClient needs httpx)
  pybind11-dev python3-dev python3-httpx
  python3 python3-pytest python3-requests python3-jwt python3-cryptography python3-argon2 argon2
  wrk curl
  # browser sign-in e2e tests (tests/e2e/test_browser_chromium.py, test_oidc_clients.py): a real
  # headless Chromium driven by selenium, and Authlib as a relying party
  chromium chromium-driver python3-selenium python3-authlib
  # PostgreSQL 15 server for the throwaway test clusters (src/store/testing/pg_cluster.h,
  # tests/e2e/pgcluster.py). Installing it also creates and starts the default cluster 15/main on
  # port 5432; the tests neither need nor touch it.
  postgresql
  # the TLS scan of the built-in TLS (tests/e2e/test_tls_scan.py; its command is `testssl`)
  testssl.sh
  # examples/ and their e2e test (tests/e2e/test_examples.py)
  nginx python3-fastapi python3-uvicorn python3-multipart python3-passlib python3-bcrypt
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
