# Sourced by the gpu_*.sh scripts: on a machine with no network, install the wheels of .gpu/whl when the image
# lacks them, unpack .gpu/data.tar.xz to /tmp/data once, and print the GPU and torch. Uses $PY.
if ! $PY -c "import wfdb, zstandard, mido" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .gpu/whl/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
[ -d /tmp/data/ecg/mitdb ] || $PY -c "import tarfile; tarfile.open('.gpu/data.tar.xz').extractall('/tmp')" || exit 1
nvidia-smi --query-gpu=name,memory.used --format=csv 2>/dev/null; $PY -c "import torch; print(torch.__version__)"
