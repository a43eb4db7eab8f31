"""Training data: converters, format recognition and clear errors (no model needed)."""

import json

import pytest

from agent.core.steps import Trajectory
from finetune.data import DataError, Example, load_examples, load_gold, save_examples
from finetune.formats import gsm8k_chain, gsm8k_react
from tools import get_tool

NATALIA = {
    "question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether in April and May?",
    "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
    "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72",
}
WENG = {
    "question": "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. "
    "How much did she earn?",
    "answer": "Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\n"
    "Working 50 minutes, she earned 0.2 x 50 = $<<0.2*50=10>>10.\n#### 10",
}


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_gsm8k_chain_strips_annotations_and_keeps_the_answer():
    ex = gsm8k_chain(NATALIA["question"], NATALIA["answer"])
    assert ex.answer == "72"
    assert "<<" not in ex.reasoning and ">>" not in ex.reasoning
    assert ex.reasoning == (
        "Natalia sold 48/2 = 24 clips in May. Natalia sold 48+24 = 72 clips altogether in April and May."
    )
    assert ex.target().endswith("\nFinal Answer: 72\n")
    assert ex.target().startswith("Thought: Natalia sold 48/2 = 24")


def test_gsm8k_react_has_one_calculator_call_per_annotation_with_true_observations():
    ex = gsm8k_react(WENG["question"], WENG["answer"])
    target = ex.target()
    assert target.count("Action: calculator") == 2
    assert 'Action Input: {"expression": "12/60"}\nObservation: 0.2\n' in target
    assert 'Action Input: {"expression": "0.2*50"}\nObservation: 10\n' in target
    assert target.startswith("Thought: Weng earns 12/60 = $0.2 per minute.\nAction: calculator\n")
    assert target.endswith("Thought: I know the answer.\nFinal Answer: 10\n")
    calc = get_tool("calculator")
    for expr in ("12/60", "0.2*50"):
        assert f"Observation: {calc(expression=expr)}\n" in target


def test_gsm8k_react_parses_back_as_a_trajectory_the_runtime_renders_identically():
    from agent.core.parse import parse_step

    ex = gsm8k_react(NATALIA["question"], NATALIA["answer"])
    chunks = ex.target().split("Observation: ")
    first = parse_step(chunks[0], {"calculator": "expression"})
    assert first.action.tool == "calculator" and first.action.args == {"expression": "48/2"}
    last = parse_step(chunks[-1].split("\n", 1)[1])
    assert last.answer == "72"


def test_gsm8k_observation_is_computed_not_copied_from_the_annotation():
    ex = gsm8k_react("q", "It is 7*6 = <<7*6=41>>41.\n#### 42")
    assert "Observation: 42\n" in ex.target()


def test_load_examples_recognises_gsm8k_rows_and_styles(tmp_path):
    path = write_jsonl(tmp_path / "gsm.jsonl", [NATALIA, WENG])
    react = load_examples(path)
    chain = load_examples(path, style="chain")
    assert [e.answer for e in react] == ["72", "10"] == [e.answer for e in chain]
    assert "Action: calculator" in react[0].target() and "Action:" not in chain[0].target()
    with pytest.raises(DataError, match="unknown style"):
        load_examples(path, style="poem")


def test_project_schema_round_trips_and_uses_the_runtime_prompt(tmp_path):
    examples = [
        Example(problem="What is 2+2?", reasoning="I add.", answer="4", tools=("calculator",)),
        Example(problem="Say hi", reasoning="Thought: easy", answer="hi", system="Be brief."),
    ]
    path = save_examples(examples, tmp_path / "ex.jsonl")
    loaded = load_examples(path)
    assert loaded == examples
    system, user = loaded[0].prompt_messages()
    assert "calculator(expression: string)" in system["content"] and user["content"] == "Question: What is 2+2?"
    assert loaded[1].prompt_messages()[0] == {"role": "system", "content": "Be brief."}
    assert loaded[1].target() == "Thought: easy\nFinal Answer: hi\n"


def test_messages_form_trains_on_the_last_assistant_message(tmp_path):
    row = {
        "messages": [
            {"role": "system", "content": "S"},
            {"role": "user", "content": "2+3?"},
            {"role": "assistant", "content": "Thought: add\nFinal Answer: 5\n"},
        ]
    }
    (ex,) = load_examples(write_jsonl(tmp_path / "m.jsonl", [row]))
    assert ex.prompt_messages() == row["messages"][:2]
    assert ex.target() == "Thought: add\nFinal Answer: 5\n" and ex.answer == "5"


def _trajectory(question, answer, **extra):
    steps = [
        {"thought": "add", "action": {"tool": "calculator", "args": {"expression": "2+2"}}, "observation": "4"},
        {"thought": "done", "answer": answer},
    ]
    return {"question": question, "steps": steps, "answer": answer, "tools": ["calculator"], **extra}


def test_trace_files_keep_only_trajectories_with_a_correct_answer(tmp_path):
    rows = [
        _trajectory("q-right-gold-map", "4"),
        _trajectory("q-wrong-gold-map", "5"),
        _trajectory("q-gold-field", "4", gold="4"),
        _trajectory("q-gold-field-wrong", "4", gold="7"),
        _trajectory("q-stats", "9", stats={"correct": True}),
        _trajectory("q-unchecked", "4"),
    ]
    path = write_jsonl(tmp_path / "trace.jsonl", rows)
    gold = {"q-right-gold-map": "4", "q-wrong-gold-map": "4"}
    kept = load_examples(path, gold=gold)
    assert [e.problem for e in kept] == ["q-right-gold-map", "q-gold-field", "q-stats"]
    assert kept[0].target() == Trajectory.from_dict(rows[0]).render()
    assert kept[0].target().endswith("Thought: done\nFinal Answer: 4\n")


def test_gold_answers_come_from_gsm8k_rows(tmp_path):
    gold_file = write_jsonl(
        tmp_path / "gold.jsonl",
        [{"question": "q1", "answer": "work\n#### 1,200"}, {"question": "q2", "answer": "Paris"}],
    )
    gold = load_gold(gold_file)
    assert gold == {"q1": "1200", "q2": "Paris"}
    traces = write_jsonl(tmp_path / "t.jsonl", [_trajectory("q1", "$1,200"), _trajectory("q2", "London")])
    assert [e.problem for e in load_examples(traces, gold=gold)] == ["q1"]


def test_trace_with_no_correct_trajectory_is_a_clear_error(tmp_path):
    path = write_jsonl(tmp_path / "trace.jsonl", [_trajectory("q", "5", gold="4")])
    with pytest.raises(DataError, match="none of its 1 records"):
        load_examples(path)


def test_tot_tree_gives_value_and_propose_examples(tmp_path):
    tree = {
        "task": "game24",
        "question": "4 9 10 13",
        "nodes": [
            {"id": 0, "state": "4 9 10 13", "parent": None, "label": "likely"},
            {"id": 1, "state": "4 9 10 13\n13 - 9 = 4 (left: 4 4 10)", "parent": 0, "label": "sure"},
            {"id": 2, "state": "4 9 10 13\n4 + 9 = 13 (left: 10 13 13)", "parent": 0, "label": "impossible"},
        ],
    }
    examples = load_examples(write_jsonl(tmp_path / "tree.jsonl", [tree]))
    values = {e.problem: e.target() for e in examples if e.answer in ("sure", "likely", "impossible")}
    assert values == {"4 9 10 13": "likely", tree["nodes"][1]["state"]: "sure", tree["nodes"][2]["state"]: "impossible"}
    (propose,) = [e for e in examples if not e.answer]
    assert propose.target() == "13 - 9 = 4 (left: 4 4 10)\n"  # the impossible child is not proposed
    assert "game24" in propose.prompt_messages()[0]["content"]


def test_node_link_tree_from_the_search_reads_steps_from_edges(tmp_path):
    tree = {
        "directed": True,
        "graph": {"task": "gsm8k", "question": "q"},
        "nodes": [
            {"id": 0, "state": "q", "value": 20.0, "judged": True},
            {"id": 1, "state": "q\nstep one", "value": 0.001, "judged": True},
        ],
        "edges": [{"source": 0, "target": 1, "step": "step one"}],
    }
    path = tmp_path / "tree.json"
    path.write_text(json.dumps(tree))
    examples = load_examples(path)
    assert sorted(e.target() for e in examples) == ["impossible", "sure"]  # the only child is impossible


def test_malformed_jsonl_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "a", "answer": "b #### 1"}\n{"question": "c", "answer": "d #### 2"}\n{not json\n')
    with pytest.raises(DataError) as err:
        load_examples(path)
    assert "bad.jsonl:3" in str(err.value) and "line 3" in str(err.value)


def test_missing_fields_are_named(tmp_path):
    with pytest.raises(DataError, match=r"m\.jsonl:2: missing field\(s\) reasoning"):
        load_examples(
            write_jsonl(
                tmp_path / "m.jsonl",
                [{"problem": "p", "reasoning": "r", "answer": "1"}, {"problem": "p", "answer": "1"}],
            )
        )
    with pytest.raises(DataError, match="no final line '#### N'"):
        load_examples(write_jsonl(tmp_path / "g.jsonl", [{"question": "q", "answer": "no marker"}]))
    with pytest.raises(DataError, match="unknown record format with fields foo"):
        load_examples(write_jsonl(tmp_path / "u.jsonl", [{"foo": 1}]))


def test_empty_and_missing_files_are_clear_errors(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(DataError, match="empty.jsonl: the data file is empty"):
        load_examples(empty)
    with pytest.raises(DataError, match="nope.jsonl: no such data file"):
        load_examples(tmp_path / "nope.jsonl")


def test_csv_with_question_answer_columns_loads_through_datasets(tmp_path):
    pytest.importorskip("datasets")
    import csv

    path = tmp_path / "rows.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["question", "answer"])
        writer.writeheader()
        writer.writerows([NATALIA, WENG])
    assert [e.answer for e in load_examples(path)] == ["72", "10"]
