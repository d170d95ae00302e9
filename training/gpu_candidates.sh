# Train the ecg-v2 candidates side by side on one GPU, in one call of a machine with no network.
#
# Here, from the repository root, pack what that machine lacks into .gpu/ (ignored by git):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux2014_x86_64 -d .gpu/whl zstandard==0.25.0 wfdb==4.3.1 mido==1.3.3
#   tar -C <copy of the train and val records, as data/ecg/mitdb/{SPLITS.json,NNN.hea,NNN.dat}> -cf - data \
#     | zstd -19 -o .gpu/data.tar.zst
# There (working tree + .gpu/): M=6.5 LIMIT=480 OUT=<results folder> bash training/gpu_candidates.sh
# The ecg-v2 bundle came from this call on one NVIDIA H200 (2026-11-27), the three runs sharing the GPU.
set -u
M=${M:-6.5}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
python3 -c "import zstandard,tarfile; tarfile.open(fileobj=zstandard.ZstdDecompressor().stream_reader(open('.gpu/data.tar.zst','rb')), mode='r|').extractall('/tmp')" || exit 1
nvidia-smi --query-gpu=name,memory.used --format=csv; python3 -c "import torch; print(torch.__version__)"
names="ecg-v2 ecg-v2-hop16 ecg-v2-b128"
for n in $names; do
  c=training/configs/$n.toml; [ -f $c ] || c=training/configs/compare/$n.toml
  timeout ${LIMIT:-530} python3 -m training.train --config $c --data /tmp/data --device cuda --minutes $M --out /tmp/runs > /tmp/$n.out 2>&1 &
done
sleep 90; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv; tail -n 3 /tmp/runs/*/train.log
wait
for n in $names; do  # best checkpoint without the optimiser state (under the 16 MiB a returned file may have)
  python3 -c "
import torch,sys; ck=torch.load('/tmp/runs/$n/best.pt',weights_only=False,map_location='cpu'); ck.pop('opt',None)
torch.save(ck,'$OUT/$n.pt'); print('$n', ck['step'], ck['val'])"
  { cat /tmp/runs/$n/train.log; tail -c 3000 /tmp/$n.out; } > $OUT/$n.log
  grep -E "ms/step|eval" /tmp/runs/$n/train.log | tail -n 4
done
