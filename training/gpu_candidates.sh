# Train candidate models side by side on one GPU, in one call of a machine with no network.
#
# Here, from the repository root, pack what that machine lacks into .gpu/ (ignored by git): the wheels
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux2014_x86_64 -d .gpu/whl zstandard==0.25.0 wfdb==4.3.1 mido==1.3.3
# and the train and val records as .gpu/data.tar.xz (lzma: the standard library reads it):
#   tar -C <copy of data/ecg/mitdb/{SPLITS.json,NNN.hea,NNN.dat}, train and val only> -cf - data \
#     | xz -9e > .gpu/data.tar.xz
# There (working tree + .gpu/ + the checkpoints RUNS starts from):
#   M=6.5 LIMIT=480 OUT=<results folder> bash training/gpu_candidates.sh
# RUNS holds one line per run: its config, and optionally a checkpoint to fine-tune (train.py --init).
# The ecg-v2 bundle came from the default RUNS on one NVIDIA H200 (2026-11-27), the three runs sharing the GPU.
set -u
M=${M:-6.5}; PY=${PY:-python3}; DEVICE=${DEVICE:-cuda}
. training/gpu_env.sh  # wheels, data, GPU
runs=${RUNS:-"training/configs/ecg-v2.toml
training/configs/compare/ecg-v2-hop16.toml
training/configs/compare/ecg-v2-b128.toml"}
while read -r c init; do
  n=$(basename $c .toml)
  timeout ${LIMIT:-530} $PY -m training.train --config $c ${init:+--init $init} --data /tmp/data --device $DEVICE \
    --minutes $M --out /tmp/runs > /tmp/$n.out 2>&1 &
done <<< "$runs"
sleep ${PEEK:-90}; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv 2>/dev/null; tail -n 3 /tmp/runs/*/train.log
wait
while read -r c init; do  # best checkpoint without the optimiser state (under the 16 MiB a returned file may have)
  n=$(basename $c .toml)
  $PY -c "
import torch,sys; ck=torch.load('/tmp/runs/$n/best.pt',weights_only=False,map_location='cpu'); ck.pop('opt',None)
torch.save(ck,'$OUT/$n.pt'); print('$n', ck['step'], ck['val'])"
  { cat /tmp/runs/$n/train.log; tail -c 3000 /tmp/$n.out; } > $OUT/$n.log
  grep -E "ms/step|eval" /tmp/runs/$n/train.log | tail -n 4
done <<< "$runs"
