# Fine-tune ecg-v4 for rate (training.rate) with several configs side by side on one GPU, in one call of a machine
# with no network: the ecg-v5 candidates that need ecg-v4's own batch of 64 and more steps than the CPU gives.
#
# Here, from the repository root, pack what that machine lacks into .gpu/ (ignored by git): the wheels as in
# gpu_candidates.sh, and the records as .gpu/data.tar.xz: mitdb's train and val records (with SPLITS.json) and the
# QT Database (its RECORDS too). Everything a call carries must stay under 64 MiB. With PTB-XL's 500 Hz records as
# well, the pack came to 74 MB (xz -9), so the GPU configs leave PTB-XL out. mitdb (train, val) and the QT Database
# came to 59.0 MB, the wheels to 5.8 MB:
#   tar -C <copy of data/ with ecg/mitdb (train, val), ecg/qtdb> -cf - data | xz -9 > .gpu/data.tar.xz
# There (working tree + .gpu/ + the decoder weights ecg-v5-fast-b64 starts from, carried:
# runs/distill-dec/c16-24-48-96-lr3e4/decoder.pt, 1 MB, the student's decoder alone, written here by
#   python -c "import torch; p = 'runs/distill-dec/c16-24-48-96-lr3e4/'; ck = torch.load(p + 'best.pt',
#     weights_only=False); ck.pop('opt'); ck['model'] = {k: v for k, v in ck['model'].items()
#     if k.startswith('decoder.')}; torch.save(ck, p + 'decoder.pt')"
#   M=8 LIMIT=560 OUT=<results folder> bash training/gpu_rate.sh
# RUNS holds one config per line; each starts from the bundle in BUNDLE (default: the shipped ecg-v4).
set -u
M=${M:-8}; PY=${PY:-python3}; DEVICE=${DEVICE:-cuda}; BUNDLE=${BUNDLE:-vqcodec/models/ecg-v4}
. training/gpu_env.sh  # wheels, data, GPU
runs=${RUNS:-"training/configs/compare/ecg-v5-rate-1t-b64.toml
training/configs/compare/ecg-v5-fast-b64.toml"}
while read -r c; do
  n=$(basename $c .toml)
  timeout ${LIMIT:-560} $PY -m training.rate --config $c --bundle $BUNDLE --data /tmp/data --device $DEVICE \
    --minutes $M --out /tmp/runs > /tmp/$n.out 2>&1 &
done <<< "$runs"
sleep ${PEEK:-90}; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv 2>/dev/null; tail -n 3 /tmp/runs/*/train.log
wait
for c in $runs; do  # best checkpoint without the optimiser state (under the 16 MiB a returned file may have)
  n=$(basename $c .toml)
  $PY -c "
import torch; ck=torch.load('/tmp/runs/$n/best.pt',weights_only=False,map_location='cpu'); ck.pop('opt',None)
torch.save(ck,'$OUT/$n.pt'); print('$n', ck['step'], ck['val'])"
  { cat /tmp/runs/$n/train.log; tail -c 3000 /tmp/$n.out; } > $OUT/$n.log
  grep -E "ms/step|eval" /tmp/runs/$n/train.log | tail -n 4
done
