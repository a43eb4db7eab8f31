"""The varied tool problems: the tools give every answer, the wording varies far more than the old families'."""

import random
import re
import statistics

import pytest

from examples.recipes import program_problems, tool_problems, varied_problems
from examples.recipes.diversity import overlap, shape
from examples.recipes.tool_problems import tool_traces


def test_every_family_is_answered_by_its_own_tool_calls():
    records, counts = tool_traces(3, seed=5, workers=2, families=varied_problems.FAMILIES)
    assert set(counts) == set(varied_problems.FAMILIES)
    assert all(r["stats"]["correct"] and r["steps"][-1]["answer"] == r["gold"] for r in records)
    tools = {s["action"]["tool"] for r in records for s in r["steps"] if s["action"]}
    assert tools == {"calculator", "python"}  # the trained families use both; the fallback kinds use python


def test_the_first_thought_states_what_is_asked():
    rng = random.Random(2)
    for make in varied_problems.FAMILIES.values():
        thought = make(rng).calls[0][0]
        assert thought.startswith("The question asks for")


@pytest.mark.parametrize("name", ["v_total", "v_share", "v_rate", "v_percent", "v_convert"])
def test_a_trained_family_has_many_frames(name):
    rng = random.Random(0)
    shapes = {shape(varied_problems.FAMILIES[name](rng).question) for _ in range(600)}
    assert len(shapes) >= 40


def test_the_varied_families_are_far_more_varied_than_the_old_ones():
    def frames(families):
        rng = random.Random(1)
        return statistics.median(len({shape(make(rng).question) for _ in range(400)}) for make in families.values())

    trained = {k: v for k, v in varied_problems.FAMILIES.items() if k.startswith("v_")}
    assert frames(trained) >= 5 * frames(tool_problems.CALCULATOR_FAMILIES)


def test_some_questions_carry_a_distractor_and_facts_come_in_both_orders():
    rng = random.Random(3)
    questions = [varied_problems.total(rng).question for _ in range(300)]
    patterns = [
        re.compile(re.escape(d).replace(r"\{other\}", r"\w+").replace(r"\{k\}", r"\d+"))
        for d in varied_problems.DISTRACTORS
    ]
    distractors = sum(any(p.search(q) for p in patterns) for q in questions)
    assert 0.2 < distractors / len(questions) < 0.5
    first_is_count = sum(q.split(".")[0].split()[-1] in {m for _, m in varied_problems.CONTAINERS} for q in questions)
    assert 0.2 < first_is_count / len(questions) < 0.8


def test_overlap_counts_shared_ngrams():
    dev = ["How many apples are there in total?", "Spell the word backwards please"]
    share, questions = overlap(dev, ["So how many apples are there in total?"], 4)
    assert questions == 0.5
    assert 0 < share < 1


def test_program_kinds_are_families_of_their_own():
    assert set(program_problems.FAMILIES) <= set(varied_problems.FAMILIES)
    assert len(program_problems.FAMILIES) >= 10
