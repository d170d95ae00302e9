# Distil ecg-v2's encoder into narrower students side by side on one GPU, in one call of a machine with no network.
#
# Here, from the repository root, pack what that machine lacks into .gpu/ (ignored by git): the wheels as in
# gpu_candidates.sh, and the train and val records as .gpu/data.tar.xz (lzma: the standard library reads it):
#   tar -C <copy of data/ecg/mitdb/{SPLITS.json,NNN.hea,NNN.dat}, train and val only> -cf - data \
#     | xz -9e > .gpu/data.tar.xz
# There (working tree + .gpu/data.tar.xz + .gpu/whl + runs/gpu/ecg-v2.pt):
#   M=6 OUT=<results folder> bash training/gpu_distill.sh
set -u
M=${M:-6}; PY=${PY:-python3}; DEVICE=${DEVICE:-cuda}; TEACHER=${TEACHER:-runs/gpu/ecg-v2.pt}
. training/gpu_env.sh  # wheels, data, GPU
# name  channels  recon-weight  batch
# (the second call that made ecg-v3: M=4.5 SLACK=90 RUNS="s32-r1-long 16,32,64,128 1 64
#  s32-r3 16,32,64,128 3 64")
runs=${RUNS:-"s32-r0 16,32,64,128 0 64
s32-r02 16,32,64,128 0.2 64
s32-r1 16,32,64,128 1 64
s32-r1-b128 16,32,64,128 1 128
s48-r0 16,48,96,128 0 64
s48-r1 16,48,96,128 1 64"}
while read -r n c r b; do
  timeout $(( ${M%.*} * 60 + ${SLACK:-150} )) $PY -m training.distill --teacher $TEACHER --channels $c \
    --recon $r --batch $b --steps 200000 --minutes $M --eval-every 1000 --data /tmp/data --device $DEVICE \
    --out /tmp/distill/$n \
    > /tmp/$n.out 2>&1 &
done <<< "$runs"
sleep ${PEEK:-60}; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv 2>/dev/null
tail -qn 2 /tmp/distill/*/distill.log
wait
while read -r n c r b; do
  cp /tmp/distill/$n/best.pt $OUT/$n.pt
  { echo "== $n"; cat /tmp/distill/$n/distill.log; tail -c 1500 /tmp/$n.out; } >> $OUT/distill.log
  echo "$n $(grep -c '^step' /tmp/distill/$n/distill.log) evals; $(grep 'ms/step' /tmp/distill/$n/distill.log)"
  tail -n 1 /tmp/distill/$n/distill.log
done <<< "$runs"
