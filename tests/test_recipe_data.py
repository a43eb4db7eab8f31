"""The training-data recipes (examples/recipes) make correct, held-out-clean examples."""

import csv
import dataclasses
import datetime
import json
import random
import re
from fractions import Fraction

import pytest

from agent.core.backends.fake import ScriptedModel
from agent.core.steps import Trajectory
from examples.recipes import game24_data as g24
from examples.recipes import text_problems, tool_problems
from examples.recipes.build_data import build
from examples.recipes.gsm8k_programs import gsm8k_react, parse_solution, react_trace
from examples.recipes.gsm8k_reinstantiate import Skip, build_program, reinstantiate
from search import State
from search.tasks import fill
from search.tasks import game24_prompts as prompts
from search.tasks.game24 import Game24, legal_moves, parse_move, validate

NATALIA = {
    "question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether in April and May?",
    "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips "
    "altogether in April and May.\n#### 72",
}
BETTY = {
    "question": "Betty is saving money for a new wallet which costs $100. Betty has only half of the money she needs. "
    "Her parents decided to give her $15 for that purpose, and her grandparents twice as much as her "
    "parents. How much more money does Betty need to buy the wallet?",
    "answer": "In the beginning, Betty has only 100 / 2 = $<<100/2=50>>50.\nBetty's grandparents gave her 15 * 2 = "
    "$<<15*2=30>>30.\nThis means, Betty needs 100 - 50 - 30 - 15 = $<<100-50-30-15=5>>5 more.\n#### 5",
}
WENG = {
    "question": "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. "
    "How much did she earn?",
    "answer": "Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\nWorking 50 minutes, she earned 0.2 x 50 = "
    "$<<0.2*50=10>>10.\n#### 10",
}
DEV = [
    {"question": "A baker has 37 trays of 12 rolls. How many rolls?", "answer": "37*12 = <<37*12=444>>444\n#### 444"},
    {"question": "Sam reads 14 pages a day for 9 days. How many pages?", "answer": "14*9=<<14*9=126>>126\n#### 126"},
]


def _masked(question):
    return re.sub(r"\d+", "#", question)


def _numbers(text):
    return [Fraction(x.replace(",", "")) for x in re.findall(r"\d[\d,]*(?:\.\d+)?", text)]


def test_gsm8k_trace_calls_the_calculator_and_observes_the_annotated_results():
    traces, _, _ = gsm8k_react([NATALIA, WENG])
    natalia, weng = (Trajectory.from_dict(t) for t in traces)
    assert [s.action.args["expression"] for s in natalia.steps[:-1]] == ["48/2", "48+24"]
    assert [s.observation for s in natalia.steps[:-1]] == ["24", "72"]
    assert natalia.steps[0].thought == "Natalia sold 48/2 clips in May."  # the result is left to the tool
    assert (natalia.steps[-1].thought, natalia.answer, traces[0]["gold"]) == ("I know the answer.", "72", "72")
    assert [s.action.args["expression"] for s in weng.steps[:-1]] == ["12/60", "0.2*50"]
    assert [s.observation for s in weng.steps[:-1]] == ["0.2", "10"]
    assert all("<<" not in s.thought and len(s.thought) <= 200 for s in natalia.steps + weng.steps)


def test_gsm8k_rows_the_calculator_disagrees_with_are_dropped():
    wrong = {"question": "Q?", "answer": "Add 2+2 = <<2+2=5>>5 apples.\n#### 5"}
    assert react_trace(parse_solution(wrong)) is None
    assert parse_solution({"question": "Q?", "answer": "It is <<7=7>>7.\n#### 7"}) is None  # nothing to compute


def test_jsonl_lines_survive_splitlines():
    from examples.recipes.traces import jsonl_line

    record = {"question": "Line\u2028separator and NEL\x85 inside a GSM8K question"}
    line = jsonl_line(record)
    assert len(line.splitlines()) == 1 and json.loads(line) == record


def test_trainer_reads_the_traces_as_correct_examples():
    from finetune.formats import convert_record

    traces, _, _ = gsm8k_react([NATALIA])
    (example,) = convert_record(json.loads(json.dumps(traces[0])), "test")
    assert 'Action Input: {"expression": "48/2"}\nObservation: 24\n' in example.target()
    assert example.target().endswith("Final Answer: 72\n")


def test_reinstantiation_reproduces_the_original_and_recomputes_new_numbers():
    for row, originals in ((NATALIA, [24, 72]), (BETTY, [50, 30, 5])):
        sol = parse_solution(row)
        prog = build_program(sol)
        assert prog.run(tuple(q.value for q in prog.inputs)) == originals
    natalia = reinstantiate(parse_solution(NATALIA), 5, random.Random(1))
    assert len(natalia) == 5
    for rec in natalia:
        (clips,) = [n for n in _numbers(rec["question"])]
        assert clips != 48 and rec["answer"] == str(clips * 3 / 2)  # April plus half as many in May
        assert rec["steps"][0]["action"]["args"]["expression"] == f"{clips}/2"
        assert rec["steps"][1]["thought"] == f"Natalia sold {clips}+{clips / 2} clips altogether in April and May."
    for rec in reinstantiate(parse_solution(BETTY), 5, random.Random(2)):
        wallet, parents = _numbers(rec["question"])
        assert (wallet, parents) != (100, 15)
        assert Fraction(rec["answer"]) == wallet / 2 - 3 * parents >= 0  # half saved, parents + twice that
        assert all(s["observation"] is None or Fraction(s["observation"]).denominator == 1 for s in rec["steps"])


def test_reinstantiation_skips_ambiguous_problems():
    twice = {"question": "Tom has 5 apples and 5 pears. How many fruits?", "answer": "5+5 = <<5+5=10>>10\n#### 10"}
    with pytest.raises(Skip, match="more than once"):
        build_program(parse_solution(twice))
    mental = {
        "question": "Ann has 6 cats and 3 dogs. Each pet eats 7 treats. Treats?",
        "answer": "She has 9 pets.\n9*7 = <<9*7=63>>63\n#### 63",
    }
    with pytest.raises(Skip, match="constant"):
        build_program(parse_solution(mental))  # 9 was worked out in the text: it must not stay a constant
    tenth = {
        "question": "Adam earns $40 a day and 10% of it goes to taxes. How much does he keep?",
        "answer": "Taxes are $40 / 10 = $<<40/10=4>>4.\nHe keeps 40 - 4 = $<<40-4=36>>36.\n#### 36",
    }
    with pytest.raises(Skip, match="percentage"):
        build_program(parse_solution(tenth))  # "/ 10" is right for 10% only


def _weekday_by_zeller(d: datetime.date) -> str:
    y, m = (d.year - 1, d.month + 12) if d.month < 3 else (d.year, d.month)
    h = (d.day + 13 * (m + 1) // 5 + y + y // 4 - y // 100 + y // 400) % 7
    return ["Saturday", "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday"][h]


def _dates(text):
    months = {datetime.date(2000, m, 1).strftime("%B"): m for m in range(1, 13)}
    found = [datetime.date(int(y), int(m), int(d)) for y, m, d in re.findall(r"(\d{4})-(\d\d)-(\d\d)", text)]
    found += [
        datetime.date(int(y), months[mo], int(d)) for mo, d, y in re.findall(r"([A-Z][a-z]+) (\d+), (\d{4})", text)
    ]
    found += [
        datetime.date(int(y), months[mo], int(d)) for d, mo, y in re.findall(r"(\d+) ([A-Z][a-z]+) (\d{4})", text)
    ]
    return sorted(found)


def _primes_below(n):
    flags = [False, False] + [True] * (n - 2)
    for i in range(2, int(n**0.5) + 1):
        for j in range(i * i, n, i) if flags[i] else ():
            flags[j] = False
    return sum(flags)


UNIT_FACTORS = {
    ("kilometers", "meters"): 1000,
    ("meters", "centimeters"): 100,
    ("hours", "minutes"): 60,
    ("minutes", "seconds"): 60,
    ("kilograms", "grams"): 1000,
    ("liters", "milliliters"): 1000,
    ("feet", "inches"): 12,
    ("days", "hours"): 24,
    ("weeks", "days"): 7,
    ("inches", "centimeters"): Fraction("2.54"),
    ("miles", "kilometers"): Fraction("1.609344"),
    ("pounds", "ounces"): 16,
    ("yards", "feet"): 3,
}


def _count_text(q):
    letter = re.search(r'letter "?(\w)"? (?:appear )?in (?:the word )?"?(\w+)|How many (\w)\'s are in "(\w+)"', q)
    if letter:
        ch, word = [g for g in letter.groups() if g]
        return word.count(ch)
    if "vowels" in q:
        return sum(c in "aeiou" for c in re.findall(r"\w+", q)[-1 if '"' not in q else -2])
    if "words" in q:
        return len(re.search(r'"([^"]+)"', q).group(1).split())
    digit = re.search(r"digit (\d) appear in ([\d,]+)|the (\d)s among the digits of ([\d,]+)", q)
    if digit:
        d, number = [g for g in digit.groups() if g]
        return number.replace(",", "").count(d)
    a, b = map(int, re.search(r"(\d+)(?:\^| to the power )(\d+)", q).groups())
    return len(str(a**b))


def _expected(p):
    """The answer recomputed from the question text alone."""
    q, nums = p.question, _numbers(p.question)
    if p.family == "multiply":
        return nums[0] * nums[1]
    if p.family == "stock":
        x, w, s = (nums[0], nums[1], nums[2]) if q.startswith(("A ", "Each")) else (nums[1], nums[0], nums[2])
        return x * w - s
    if p.family == "power":
        return nums[0] ** int(nums[1])
    if p.family == "range_sum":
        return sum(range(int(nums[0]), int(nums[-1]) + 1))
    if p.family == "primes":
        return _primes_below(int(nums[-1]) + ("inclusive" in q or "including" in q))
    if p.family == "weekday":
        return _weekday_by_zeller(_dates(q)[0])
    if p.family == "days_between":
        first, last = _dates(q)
        return (last - first).days
    if p.family == "average":
        return round(sum(nums) / len(nums), 2)
    if p.family == "percent":
        return nums[0] * nums[1] / 100 if "$" not in q else nums[0] * (100 - nums[1]) / 100
    if p.family == "expression":
        text = re.fullmatch(r"(?:What is|Compute|Calculate|Evaluate|Work out) (.+)[?.]", q).group(1)
        assert set(text) <= set("0123456789,+-*() ")
        return eval(text.replace(",", ""))  # checked: digits, operators, brackets only
    if p.family == "convert":
        big = re.search(r"[\d.,]+ (\w+)", q).group(1)
        (factor,) = [f for (b, small), f in UNIT_FACTORS.items() if b == big and small in q]
        return nums[0] * factor
    return _count_text(q)


@pytest.mark.parametrize("family", sorted(tool_problems.FAMILIES))
def test_tool_family_answers_are_right(family):
    rng = random.Random(7)
    problems = [tool_problems.FAMILIES[family](rng) for _ in range(25)]
    assert len({p.question for p in problems}) > 15  # varied wordings and numbers
    assert not set(tool_problems.HELD_OUT) & {p.question for p in problems}
    for p in problems:
        expected = _expected(p)
        assert str(p.answer) == str(expected) or Fraction(p.answer) == Fraction(expected), p.question


def test_tool_traces_run_the_real_tools():
    records, counts = tool_problems.tool_traces(1, seed=3, workers=2)
    assert set(counts) == set(tool_problems.FAMILIES) and len(records) == len(tool_problems.FAMILIES)
    for rec in records:
        traj = Trajectory.from_dict(rec)
        assert traj.tools == ["calculator", "python"] and traj.stats == {"correct": True}
        last = traj.steps[-2]
        assert last.action.tool in ("calculator", "python") and last.observation
        assert traj.answer == last.observation or Fraction(traj.answer) == Fraction(last.observation)
    assert text_problems.PYTHON_FAMILIES  # the python families are part of FAMILIES


def test_game24_solver_labels():
    assert g24.solvable(g24.key([Fraction(x) for x in (4, 9, 10, 13)]))
    assert not g24.solvable(g24.key([Fraction(1)] * 4))
    assert g24.solvable(g24.key([Fraction(x) for x in (3, 3, 8, 8)]))  # needs 8 / (3 - 8/3)


def test_game24_examples_use_the_task_prompts_and_legal_moves():
    task, rng = Game24(), random.Random(0)
    nums = g24.key([Fraction(x) for x in (4, 9, 10, 13)])
    assert g24.propose_prompt(nums) == task._propose_query(list(nums)).prompt
    assert sorted(line for line, _ in g24._legal(nums)) == sorted(legal_moves(list(nums)))
    good = g24.good_moves(nums, rng)
    assert good and all(g24.solvable(g24.key(parse_move(list(nums), line)[1])) for line in good)
    assert len(good) < len(g24._legal(nums))  # some legal moves lose: those are never taught
    kinds = g24.value_examples(["4 9 10 13"], random.Random(0), task)
    short_head, full_head = (t.split("$numbers")[0] for t in (prompts.VALUE_SHORT, prompts.VALUE))
    assert {"sure", "impossible"} == {r["completion"].split()[-1] for r in kinds["value"]}
    assert len(kinds["value"]) == len(kinds["value_paper"])
    for kind, records in kinds.items():
        for v in records:
            prompt, completion = v["prompt"], v["completion"]  # raw: exactly the task's prompt text
            assert prompt.startswith(short_head if kind == "value" else full_head)
            left = g24.key([Fraction(x) for x in prompt.rstrip(":\n").splitlines()[-1].split()])
            label = "sure" if g24.solvable(left) else "impossible"
            assert completion == f" {label}" if kind == "value" else completion.endswith(f"\n{label}")
    assert g24.value_completion(g24.key([Fraction(4), Fraction(6)]), rng, True) == "6 * 4 = 24\nsure"
    assert g24.value_completion(g24.key([Fraction(11), Fraction(12)]), rng, True).endswith("\nimpossible")
    by_kind = {}
    for kind, rec in g24.puzzle_examples("4 9 10 13", random.Random(1), task):
        by_kind.setdefault(kind, []).append(rec)
    for rec in by_kind["propose"]:  # one legal, winning move per example, after the task's own prompt
        (line,) = rec["completion"].splitlines()
        state = g24.key([Fraction(x) for x in rec["prompt"].rsplit("Input: ", 1)[1].split("\n")[0].split()])
        assert rec["prompt"] == g24.propose_prompt(state)
        assert g24.solvable(g24.key(parse_move(list(state), line)[1]))
    prompt, completion = by_kind["answer"][0]["prompt"], by_kind["answer"][0]["completion"]
    steps = prompt.rsplit("Steps:\n", 1)[1].removesuffix("\nAnswer:").splitlines()
    model = ScriptedModel(lambda p: completion)
    writer = dataclasses.replace(task, answer_by="model")  # the model writes the expression (trained for it)
    writer.propose(model, State("4 9 10 13", tuple(steps)), 1, temperature=0.0, seed=0)
    assert model.prompts == [prompt]  # exactly what the search sends for the last step
    assert completion.startswith(" ") and validate("4 9 10 13", completion)


def test_build_holds_out_the_dev_splits(tmp_path):
    gsm = tmp_path / "train.jsonl"
    gsm.write_text("".join(json.dumps(r) + "\n" for r in [NATALIA, BETTY, WENG, *DEV]))
    puzzles = ["1 1 4 6", "1 1 11 11", "1 1 3 8", "1 4 5 6", "1 3 4 6"]
    csv_path = tmp_path / "24.csv"
    with csv_path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Rank", "Puzzles", "AMT (s)"])
        w.writerows([860 if i == 3 else i, p, 5.0] for i, p in enumerate(puzzles, 1))  # rank 860: "near"
    out = tmp_path / "data"
    summary = build(
        out, gsm8k=gsm, game24=csv_path, reinstantiate=3, tool_items=1, workers=2, n_dev_rows=2, n_dev_puzzles=2
    )
    assert (out / "gsm8k_dev.jsonl").read_text().splitlines() == gsm.read_text().splitlines()[-2:]
    assert (out / "game24_dev.csv").read_text().splitlines()[1:] == csv_path.read_text().splitlines()[-2:]
    assert (out / "game24_near.csv").read_text().splitlines()[1:] == csv_path.read_text().splitlines()[3:4]
    assert summary["gsm8k_react.jsonl"]["records"] == 3 and summary["gsm8k_reinstantiated.jsonl"]["records"] > 0
    texts = {name: (out / name).read_text() for name in summary}
    questions = [
        json.loads(line)["question"]
        for name, text in texts.items()
        if name.startswith("gsm8k")
        for line in text.splitlines()
    ]
    assert {_masked(d["question"]) for d in DEV}.isdisjoint(map(_masked, questions))  # not even with new numbers
    game = "".join(text for name, text in texts.items() if name.startswith("game24"))
    for held in ("1 4 5 6", "1 3 4 6", "1 1 3 8"):
        assert f"Input: {held}\\n" not in game and f"Input: {held}\n" not in game
    assert "1 1 4 6" in game
    readme = (out / "README.md").read_text()
    assert "MIT licence, Copyright (c) 2021 OpenAI" in readme and "Copyright (c) 2023 Shunyu Yao" in readme


def test_split_puzzles_holds_out_the_hardest_rows_and_the_ranks_beside_the_test_range():
    lines = ["Rank,Puzzles,AMT (s)"] + [
        f"{r},1 1 4 {r % 9 + 1},5.0" for r in (1, 2, 850, 851, 900, 901, 1001, 1050, 1051, 1362)
    ]
    splits = g24.split_puzzles(lines, n_dev=1)
    assert [row.split(",")[0] for row in splits["near"]] == ["851", "900", "1001", "1050"]
    assert [row.split(",")[0] for row in splits["dev"]] == ["1362"]
    assert [row.split(",")[0] for row in splits["train"]] == ["1", "2", "850", "901", "1051"]
    no_rank = ["Puzzles", "1 1 4 6", "1 1 11 11", "1 3 4 6"]  # no Rank column: no near split
    assert g24.split_puzzles(no_rank, n_dev=1) == {"train": ["1 1 4 6", "1 1 11 11"], "dev": ["1 3 4 6"], "near": []}


def test_value_all_judges_every_state_a_search_meets_with_the_solvers_label():
    task = Game24()
    records = g24.value_all(["4 9 10 13"], random.Random(0), positive_repeat=2, last_negatives=5)
    states = g24.reachable_states(["4 9 10 13"], task)
    by_prompt: dict[str, list[str]] = {}
    for r in records:
        by_prompt.setdefault(r["prompt"], []).append(r["completion"])
    for nums, state in states.items():
        completions = by_prompt[task.value_prompt(state).prompt]  # every 3- and 2-number state is there
        label = " sure" if g24.solvable(nums) else " impossible"
        assert completions == [label] * (2 if label == " sure" else 1)
    ones = [p for p in by_prompt if len(p.splitlines()[-1].split()) == 1]
    assert len(ones) == 6 and by_prompt[fill(prompts.VALUE_SHORT, numbers="24")][0] == " sure"
    assert all(c == [" impossible"] for p, c in by_prompt.items() if p in ones and not p.endswith("\n24:"))


def test_focus_families_teach_every_winning_state_and_balance_the_judge(tmp_path):
    """``game24_value_focus.jsonl`` / ``game24_propose_focus.jsonl``, which the shipped mix holds."""
    puzzles = ["4 9 10 13", "1 1 4 6"]
    task = Game24()
    mix = g24.focus_mix(puzzles, seed=0, negatives=2.0, per_state=2)
    labels = [r["completion"].strip() for r in mix["value"]]
    solvable_states = [n for n in g24.reachable_states(puzzles, task) if g24.solvable(n)]
    assert labels.count("sure") >= len(solvable_states)  # every solvable state is judged
    assert labels.count("impossible") >= 2 * len({n for n in solvable_states if len(n) == 3})
    roots = [g24.key([Fraction(x) for x in p.split()]) for p in puzzles]
    exact = {g24.propose_prompt(n): n for n in [*roots, *solvable_states]}  # prompts show 1/25 as 0.04
    taught = set()
    for rec in mix["propose"]:  # only winning moves, from the puzzles and from every solvable state
        state = exact[rec["prompt"]]
        (line,) = rec["completion"].splitlines()
        assert g24.solvable(g24.key(parse_move(list(state), line)[1]))
        taught.add(state)
    assert {n for n in solvable_states if len(n) > 1} <= taught
    assert g24.key([Fraction(x) for x in (4, 9, 10, 13)]) in taught
    assert g24.key([Fraction(x) for x in (1, 1, 4, 6)]) in taught


def test_mix_takes_seeded_samples_of_each_file(tmp_path):
    from examples.recipes.mix import take, write_mix

    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps({"a": i}) + "\n" for i in range(10)))
    b.write_text("".join(json.dumps({"b": i}) + "\n" for i in range(3)) + "\n")
    lines, counts = take([f"{a}:4", f"{b}:all"], random.Random(0))
    assert counts == {str(a): 4, str(b): 3} and len(lines) == 7
    assert lines == take([f"{a}:4", f"{b}:all"], random.Random(0))[0]  # seeded: the same mix again
    write_mix(tmp_path / "out" / "mix.jsonl", lines, random.Random(1))
    written = (tmp_path / "out" / "mix.jsonl").read_text().splitlines()
    assert sorted(written) == sorted(lines) and sum('"b"' in w for w in written) == 3
    for bad in (f"{a}", f"{a}:some", ":3"):
        with pytest.raises(ValueError, match="FILE:COUNT"):
            take([bad], random.Random(0))


def test_shipped_mix_caps_and_repeats_families(tmp_path, monkeypatch):
    from examples.recipes import shipped

    monkeypatch.setattr(shipped, "MIX", {"a.jsonl": 2, "b.jsonl": None})
    monkeypatch.setattr(shipped, "REPEAT", {"b.jsonl": 3})
    (tmp_path / "a.jsonl").write_text("".join(json.dumps({"a": i}) + "\n" for i in range(5)))
    (tmp_path / "b.jsonl").write_text("".join(json.dumps({"b": i}) + "\n" for i in range(4)))
    counts = shipped.mix(tmp_path, tmp_path / "mix.jsonl", seed=0)
    lines = (tmp_path / "mix.jsonl").read_text().splitlines()
    assert counts == {"a.jsonl": 2, "b.jsonl": 12} and len(lines) == 14
    assert all(lines.count(json.dumps({"b": i})) == 3 for i in range(4))  # every value state, three passes
    with pytest.raises(FileNotFoundError, match="build_data"):
        shipped.mix(tmp_path / "nothing", tmp_path / "m.jsonl", seed=0)
