#!/usr/bin/env bash
# Installs dependencies, builds the release preset and starts `portcullis serve` with the embedded
# defaults (https://127.0.0.1:8443, data in ./data). Extra arguments go to `portcullis serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release
cmake --build --preset release
# The resource-server SDK (docs/resource-servers.md): the C++ verifier's headers, library, CMake
# package and pkg-config file under /usr/local, the Python module portcullis_verifier and package
# portcullis (portcullis.fastapi) for /usr/bin/python3.
cmake --install build/release
exec ./build/release/src/cli/portcullis serve "$@"
