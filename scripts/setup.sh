#!/usr/bin/env bash
# Set up sirenpipe on a fresh Debian machine: system packages (demo audio, tcmalloc), a
# virtual environment in .venv with the CPU build of PyTorch, and the project itself.
# Idempotent. SIRENPIPE_SKIP_APT=1 skips the Debian packages (no root, or not Debian).
set -euo pipefail
cd "$(dirname "$0")/.."

DEMO_PACKAGES="asterisk-core-sounds-en-g722 asterisk-core-sounds-es-g722 asterisk-core-sounds-fr-g722 fillets-ng-data-nl sonic-pi-samples fretsonfire-songs-muldjord asterisk-moh-opsound-g722"
SYSTEM_PACKAGES="libtcmalloc-minimal4 $DEMO_PACKAGES"

missing=$(for p in $SYSTEM_PACKAGES; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"; done)
if [ -n "$missing" ] && [ "${SIRENPIPE_SKIP_APT:-0}" != 1 ]; then
  echo "== installing Debian packages: $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  python3 -m venv .venv
fi
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    echo "== installing PyTorch (CUDA build)"; pip install "torch>=2.4"
  else
    echo "== installing PyTorch 2.13.0 (CPU build)"; pip install torch==2.13.0
  fi
fi
echo "== installing sirenpipe and its dependencies"
pip install -e ".[workflow,test]"
echo "== ready: .venv/bin/sirenpipe --help"
