#!/usr/bin/env bash
# Proof that the device side installs and runs on aarch64 (64-bit Raspberry Pi OS is Debian arm64).
#
# Builds an arm64 Debian root with debootstrap + qemu-user-static, installs sklkws[device] in a
# virtual environment there from aarch64 wheels downloaded on this machine (numpy, joblib,
# ai-edge-litert and their dependencies; nothing of the training stack), and runs a tiny model
# made here (benchmarks/arm_device_payload.py) through CompactClassifier, the joblib path and
# `sklkws listen` on a WAV. Under emulation, timings are not Raspberry Pi timings: none is printed.
#
# Usage (as root, on Debian/Ubuntu with the training environment in .venv):
#     bash benchmarks/arm_device.sh [WORK_DIR]        # default /tmp/sklkws_arm; takes 15-30 minutes
# Environment: PYTHON (training interpreter, default .venv/bin/python), SUITE (default bookworm,
# whose python3 is 3.11), MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

REPO=${REPO:-$(cd "$(dirname "$0")/.." && pwd)}
WORK=${1:-/tmp/sklkws_arm}
PY=${PYTHON:-$REPO/.venv/bin/python}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
ROOT=$WORK/root
step() { echo "== $(date -u +%H:%M:%S) $*"; }

[ "$(id -u)" = 0 ] || { echo "run as root (debootstrap and chroot need it)"; exit 1; }
mkdir -p "$WORK"

step "host tools: debootstrap, qemu-user-static"
if ! command -v debootstrap >/dev/null || ! command -v qemu-aarch64-static >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap qemu-user-static binfmt-support
fi
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || { echo "qemu-aarch64 binfmt handler not registered"; exit 1; }

if [ ! -x "$ROOT/usr/bin/python3" ]; then
    step "debootstrap arm64 $SUITE (minbase + python3-venv) into $ROOT"
    debootstrap --arch=arm64 --variant=minbase --include=python3,python3-venv "$SUITE" "$ROOT" "$MIRROR" \
        > "$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log"; exit 1; }
fi
cp /usr/bin/qemu-aarch64-static "$ROOT/usr/bin/"

step "aarch64 wheels of the device extra, and the sklkws wheel"
rm -rf "$WORK/wheels" && mkdir -p "$WORK/wheels"
DEVICE_REQS=$("$PY" - "$REPO/pyproject.toml" <<'EOF'
import sys, tomllib
print(" ".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]["device"]))
EOF
)
# shellcheck disable=SC2086
"$PY" -m pip download -q --dest "$WORK/wheels" --only-binary=:all: --implementation cp --python-version 3.11 \
    $(for v in 17 27 28 31 34 35 36; do printf -- "--platform manylinux_2_%s_aarch64 " "$v"; done) \
    --platform manylinux2014_aarch64 \
    $DEVICE_REQS
"$PY" -m pip wheel -q --no-deps --no-build-isolation --wheel-dir "$WORK/wheels" "$REPO"
ls "$WORK/wheels"
# The older interpreter: tflite-runtime 2.14 (cp311 aarch64 wheels need glibc 2.34) with NumPy 1.x.
rm -rf "$WORK/wheels-tflite" && mkdir -p "$WORK/wheels-tflite"
"$PY" -m pip download -q --dest "$WORK/wheels-tflite" --only-binary=:all: --implementation cp --python-version 3.11 \
    $(for v in 17 27 28 31 34 35 36; do printf -- "--platform manylinux_2_%s_aarch64 " "$v"; done) \
    --platform manylinux2014_aarch64 "numpy>=1.26,<2" "joblib>=1.3" "tflite-runtime>=2.14"
ls "$WORK/wheels-tflite"

step "payload: a tiny model made on this machine (training stack)"
rm -rf "$ROOT/payload" && mkdir -p "$ROOT/payload"
"$PY" "$REPO/benchmarks/arm_device_payload.py" "$ROOT/payload" 2>&1 | grep -v "^WARNING\|^I0000\|^W0000" || true
rm -rf "$ROOT/wheels" "$ROOT/wheels-tflite" && cp -r "$WORK/wheels" "$WORK/wheels-tflite" "$ROOT/"

cat > "$ROOT/payload/check.py" <<'EOF'
import platform, sys
import joblib, numpy as np
from sklkws.device import CompactClassifier, load_model
from sklkws.device._compact import _interpreter_class
for name in ("tensorflow", "keras", "sklearn", "librosa", "soundfile"):
    assert name not in sys.modules, name
    try:
        __import__(name)
    except ImportError:
        pass
    else:
        raise SystemExit(f"{name} is installed in the device environment")
print("machine", platform.machine(), "python", platform.python_version(), "numpy", np.__version__,
      "interpreter", _interpreter_class().__module__)
data = np.load("/payload/clips.npz")
tfl = CompactClassifier("/payload/tiny.tflite", num_threads=2)
print("CompactClassifier(tiny.tflite):", tfl)
same = np.mean(tfl.predict(data["X"]) == data["expected"])
print(f"  predictions equal to the training machine's: {same:.0%} of {len(data['X'])} clips, "
      f"max |proba diff| {np.abs(tfl.predict_proba(data['X']) - data['proba']).max():.2e}")
compact = joblib.load("/payload/tiny_compact.joblib")
print("joblib.load(tiny_compact.joblib):", compact)
print(f"  predictions equal to the training machine's: {np.mean(compact.predict(data['X']) == data['expected']):.0%}")
try:
    load_model("/payload/tiny_pipeline.joblib")
except ImportError as error:
    print("load_model(tiny_pipeline.joblib) refused:", error)
else:
    raise SystemExit("the full pipeline loaded without the training stack")
EOF

step "inside the arm64 root: venv, pip install sklkws[device] from the wheels, run"
mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc" || true
trap 'umount "$ROOT/proc" 2>/dev/null || true' EXIT
# A clean environment: the host's PIP_* settings must not reach the device's pip.
env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 chroot "$ROOT" /bin/sh -ec '
    uname -m
    rm -rf /opt/venv && python3 -m venv /opt/venv
    /opt/venv/bin/pip install -q --no-index --find-links /wheels "sklkws[device]"
    /opt/venv/bin/pip list --format=freeze
    du -sh /opt/venv
    /opt/venv/bin/python /payload/check.py
    echo "sklkws listen tiny.tflite tones.wav:"
    /opt/venv/bin/sklkws listen /payload/tiny.tflite /payload/tones.wav --threads 2
    echo "sklkws listen tiny_compact.joblib tones.wav:"
    /opt/venv/bin/sklkws listen /payload/tiny_compact.joblib /payload/tones.wav
    /opt/venv/bin/sklkws --version
    echo "tflite-runtime instead of ai-edge-litert: pip install sklkws[device-tflite] (numpy<2)"
    rm -rf /opt/venv-tflite && python3 -m venv /opt/venv-tflite
    /opt/venv-tflite/bin/pip install -q --no-index --find-links /wheels-tflite --find-links /wheels "sklkws[device-tflite]"
    /opt/venv-tflite/bin/pip list --format=freeze | grep -i "numpy\|tflite\|litert\|sklkws"
    /opt/venv-tflite/bin/python /payload/check.py
    /opt/venv-tflite/bin/sklkws listen /payload/tiny.tflite /payload/tones.wav
'
step "done: the device extra installs and runs on aarch64"
