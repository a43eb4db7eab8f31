#!/usr/bin/env bash
# The shipped model's evaluation on our dev splits (held out from every training example):
#
#   bash bench/eval_model.sh NAME [MODEL_SPEC]     # MODEL_SPEC default: the default model
#   ONLY=tools bash bench/eval_model.sh ...        # one of: tools game24 game24-near gsm8k gsm8k-sc
#   EXTRA="--evaluator logprob" ONLY=game24 bash bench/eval_model.sh ...   # more agent eval options
#
# Writes runs/eval/{tools,game24,game24-near,gsm8k,gsm8k-sc}-NAME.jsonl (resumable: rerun to finish) and
# prints each summary. Sizes: 40 tool questions (bench/data), the first 20 of the last 100 puzzles of
# 24-dev.csv (the hardest), all 100 (NEAR_LIMIT) of the "near" split (ranks 851-900 and 1001-1050, beside the ToT
# paper's test range; only for models trained without them, from stop 10 on), the first 50 (GSM8K_LIMIT) of the last
# 500 GSM8K train rows. `agent eval report runs/eval/*.jsonl`
# draws the table and plot.
set -euo pipefail
name="${1:?usage: eval_model.sh NAME [MODEL_SPEC]}"
spec="${2:-}"
shared="${COT_AGENT_DATA:-$(cd "$(dirname "$0")/../.." && pwd)/shared/data}"
mkdir -p runs/dev runs/eval
head -1 "$shared/game24/24-dev.csv" > runs/dev/game24_dev.csv
tail -100 "$shared/game24/24-dev.csv" >> runs/dev/game24_dev.csv
python - "$shared/game24/24-dev.csv" <<'PY'
import sys
from examples.recipes.game24_data import load_puzzles, split_puzzles
lines, _ = load_puzzles(sys.argv[1])
open("runs/dev/game24_near.csv", "w").write("\n".join([lines[0], *split_puzzles(lines)["near"]]) + "\n")
PY
tail -500 "$shared/gsm8k/train.jsonl" > runs/dev/gsm8k_dev.jsonl
model=()
[ -n "$spec" ] && model=(--model "$spec")
read -r -a extra <<< "${EXTRA:-}"
model+=("${extra[@]}")
run() { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$1" ]; }
run tools && agent eval qa --data bench/data/tool_questions_40.jsonl --max-steps 6 "${model[@]}" \
    --out "runs/eval/tools-$name.jsonl" --json
run game24 && agent eval game24 --data runs/dev/game24_dev.csv --limit 20 "${model[@]}" \
    --out "runs/eval/game24-$name.jsonl" --json
run game24-near && agent eval game24 --data runs/dev/game24_near.csv --limit "${NEAR_LIMIT:-100}" "${model[@]}" \
    --out "runs/eval/game24-near-$name.jsonl" --json
run gsm8k && agent eval gsm8k --data runs/dev/gsm8k_dev.jsonl --limit "${GSM8K_LIMIT:-50}" "${model[@]}" \
    --out "runs/eval/gsm8k-$name.jsonl" --json
run gsm8k-sc && agent eval gsm8k --data runs/dev/gsm8k_dev.jsonl --limit "${GSM8K_LIMIT:-50}" --strategy sc --samples 5 \
    "${model[@]}" --out "runs/eval/gsm8k-sc-$name.jsonl" --json
true
