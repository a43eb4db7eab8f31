"""Write a training mix: a seeded sample of records from each of several JSONL files, shuffled together.

    python -m examples.recipes.mix --out runs/gsm/mix.jsonl data/gsm8k_react.jsonl:2500 \\
        data/gsm8k_reinstantiated.jsonl:3500 data/tool_use.jsonl:200 runs/g24/mix.jsonl:300

``FILE:COUNT`` takes COUNT records of FILE at random (``FILE:all`` every one); the same seed and
files give the same mix.
"""

from __future__ import annotations

import argparse
import logging
import random
from pathlib import Path

log = logging.getLogger(__name__)


def take(specs: list[str], rng: random.Random) -> tuple[list[str], dict[str, int]]:
    """The JSONL lines ``FILE:COUNT`` asks for (unshuffled across files) and how many came from each file.

    Raises:
        ValueError: a spec that is not ``FILE:COUNT`` or ``FILE:all``.
        FileNotFoundError: a missing file.
    """
    lines: list[str] = []
    counts: dict[str, int] = {}
    for spec in specs:
        path, _, count = spec.rpartition(":")
        if not path or not (count == "all" or count.isdigit()):
            raise ValueError(f"a mix part is FILE:COUNT or FILE:all, not {spec!r}")
        rows = [row for row in Path(path).read_text(encoding="utf-8").splitlines() if row.strip()]
        rng.shuffle(rows)
        rows = rows if count == "all" else rows[: int(count)]
        lines += rows
        counts[path] = counts.get(path, 0) + len(rows)
    return lines, counts


def write_mix(out: Path, lines: list[str], rng: random.Random) -> None:
    rng.shuffle(lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("parts", nargs="+", metavar="FILE:COUNT")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rng = random.Random(args.seed)
    try:
        lines, counts = take(args.parts, rng)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(str(err)) from err
    write_mix(args.out, lines, rng)
    log.info("wrote %d records to %s: %s", len(lines), args.out, counts)


if __name__ == "__main__":
    main()
