"""Converters from the data we have to :class:`~finetune.schema.Example`: GSM8K rows, the project
schema, chat messages, runtime ``--trace`` trajectories and ToT search trees.

GSM8K answers are step-by-step solutions with calculator annotations and a last line ``#### N``::

    Natalia sold 48/2 = <<48/2=24>>24 clips in May.
    #### 72

``chain`` style keeps the sentences (annotations stripped) as one thought; ``react`` style turns
each ``<<expr=result>>`` into a calculator Action whose Observation the calculator computes.

Example:
    >>> ex = gsm8k_react("Q?", "She sold 48/2 = <<48/2=24>>24.\\n#### 24")
    >>> print(ex.reasoning)
    Thought: She sold 48/2 = 24.
    Action: calculator
    Action Input: {"expression": "48/2"}
    Observation: 24
    Thought: I know the answer.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from agent.core.steps import Action, Step, Trajectory
from finetune.errors import DataError
from finetune.schema import Example, Style
from finetune.tot import tree_examples

log = logging.getLogger(__name__)

GSM8K_TOOLS = ("calculator", "python")  # the runtime's default tools: the prompt matches `agent solve`
_ANNOTATION = re.compile(r"<<([^<>=]*)=([^<>]*)>>")
_FINAL = re.compile(r"^\s*Final Answer:\s*(.*?)\s*$", re.MULTILINE)


def split_gsm8k(answer: str, where: str = "") -> tuple[list[str], str]:
    """The solution lines (annotations kept) and the final answer ``N`` of ``... #### N``."""
    body, sep, final = answer.rpartition("####")
    if not sep or not final.strip():
        raise DataError(f"{where}: the GSM8K answer has no final line '#### N'")
    lines = [line.strip() for line in body.strip().splitlines() if line.strip()]
    return lines, final.strip().replace(",", "")


def strip_annotations(text: str) -> str:
    """``48/2 = <<48/2=24>>24`` -> ``48/2 = 24``."""
    return " ".join(_ANNOTATION.sub("", text).split())


def gsm8k_chain(question: str, answer: str, where: str = "") -> Example:
    """A GSM8K row as one chain-of-thought: the solution's sentences in one Thought line."""
    lines, final = split_gsm8k(answer, where)
    reasoning = " ".join(strip_annotations(line) for line in lines)
    return Example(problem=question.strip(), reasoning=reasoning, answer=final, tools=GSM8K_TOOLS)


def calculate(expression: str) -> str | None:
    """What the runtime's calculator answers for ``expression``; ``None`` when it refuses."""
    from tools import ToolError, get_tool

    try:
        return get_tool("calculator")(expression=expression).strip()
    except ToolError:
        return None


def gsm8k_react(question: str, answer: str, where: str = "") -> Example:
    """A GSM8K row as a ReAct trace: each annotation is a calculator call, each sentence a Thought.

    A sentence without annotations joins the next Thought; a second annotation in one sentence
    gets its own short Thought. The last step is ``Final Answer: N``.
    """
    lines, final = split_gsm8k(answer, where)
    steps: list[Step] = []
    pending: list[str] = []
    for line in lines:
        pending.append(strip_annotations(line))
        for m in _ANNOTATION.finditer(line):
            expression = m.group(1).strip()
            observation = calculate(expression) if expression else None
            if observation is None:
                continue  # an annotation the calculator cannot read stays plain text
            thought = " ".join(pending) if pending else f"Next I compute {expression}."
            steps.append(
                Step(thought=thought, action=Action("calculator", {"expression": expression}), observation=observation)
            )
            pending = []
    steps.append(Step(thought=" ".join(pending) or "I know the answer.", answer=final))
    reasoning = Trajectory(question=question, steps=steps[:-1]).render() + f"Thought: {steps[-1].thought}\n"
    return Example(problem=question.strip(), reasoning=reasoning, answer=final, tools=GSM8K_TOOLS)


def answers_match(prediction: str | None, gold: str) -> bool:
    """The runtime's answer check: numbers compared exactly (``$1,000`` == ``1000``), else normalised words."""
    from agent.core.answers import match_answer

    return match_answer(prediction, str(gold))


def trajectory_example(rec: dict[str, Any], where: str, gold: dict[str, str] | None = None) -> Example | None:
    """A runtime ``--trace`` trajectory, kept only when its answer is known to be right.

    Kept when ``stats.correct`` is true, or the answer matches the record's ``gold`` field or
    ``gold[question]``; dropped (``None``) when wrong, unchecked, unfinished, or when a step
    recorded a model error (the error text would be trained as assistant output).
    """
    try:
        traj = Trajectory.from_dict(rec)
    except (KeyError, TypeError, AttributeError) as err:
        raise DataError(f"{where}: not a valid trajectory ({err!r})") from err
    reference = rec.get("gold", (gold or {}).get(traj.question))
    correct = traj.stats.get("correct") is True or (reference is not None and answers_match(traj.answer, reference))
    if not correct or traj.answer is None or any(s.error is not None for s in traj.steps):
        return None
    return Example(
        problem=traj.question, reasoning="", answer=traj.answer, tools=tuple(traj.tools), completion=traj.render()
    )


def eval_record_example(rec: dict[str, Any], where: str) -> Example | None:
    """An ``agent eval`` result (react or sc) as a trajectory, kept only when it was scored correct.

    This is the self-improvement loop: ``agent eval ... --temperature 0.7 --out mine.jsonl`` on
    training questions, then ``agent finetune --data mine.jsonl`` trains on the right answers. Any run
    record version reads (:func:`agent.core.record.read_record`); sc trains on the voted trajectory.
    """
    from agent.core.record import read_record

    if rec.get("correct") is not True:
        return None
    try:
        record = read_record(rec)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise DataError(f"{where}: not a run record ({err})") from err
    if record.strategy not in ("react", "sc") or not record.steps:
        return None
    traj = record.trajectory()
    traj.tools = record.tools or ["calculator", "python"]
    return trajectory_example({**traj.to_dict(), "stats": {"correct": True}}, where)


def messages_example(rec: dict[str, Any], where: str) -> Example:
    """The chat form: everything before the last assistant message is the prompt."""
    msgs = rec["messages"]
    if not isinstance(msgs, list) or not all(isinstance(m, dict) and {"role", "content"} <= m.keys() for m in msgs):
        raise DataError(f"{where}: 'messages' must be a list of {{'role', 'content'}} objects")
    last = max((i for i, m in enumerate(msgs) if m["role"] == "assistant"), default=None)
    if last is None or last == 0:
        raise DataError(f"{where}: 'messages' needs a prompt and then an 'assistant' message to learn")
    text = str(msgs[last]["content"])
    found = _FINAL.findall(text)
    user = next((m["content"] for m in reversed(msgs[:last]) if m["role"] == "user"), "")
    prompt = tuple({"role": str(m["role"]), "content": str(m["content"])} for m in msgs[:last])
    return Example(
        problem=str(user),
        reasoning="",
        answer=str(rec.get("answer") or (found[-1] if found else "")),
        messages=prompt,
        completion=text,
    )


def raw_example(rec: dict[str, Any], where: str) -> Example:
    """The raw form: ``prompt`` as the model sees it (no chat template), then ``completion``."""
    prompt, completion = rec["prompt"], rec["completion"]
    if not isinstance(prompt, str) or not isinstance(completion, str) or not completion.strip():
        raise DataError(f"{where}: 'prompt' and 'completion' must be strings, the completion not empty")
    found = _FINAL.findall(completion)
    answer = rec.get("answer") or (found[-1] if found else "")
    return Example(problem=prompt, reasoning="", answer=str(answer), raw_prompt=prompt, completion=completion)


def _require(rec: dict[str, Any], where: str, fields: tuple[str, ...]) -> None:
    missing = [f for f in fields if rec.get(f) in (None, "")]
    if missing:
        raise DataError(f"{where}: missing field(s) {', '.join(missing)} (has: {', '.join(rec) or 'nothing'})")


def convert_record(
    rec: dict[str, Any], where: str, *, style: Style = "react", gold: dict[str, str] | None = None
) -> list[Example]:
    """The examples one record gives, by its fields (see :func:`finetune.data.load_examples`).

    Raises:
        DataError: the record's format is unknown or a field it needs is missing (named).
    """
    if "messages" in rec:
        return [messages_example(rec, where)]
    if "prompt" in rec and "completion" in rec:
        return [raw_example(rec, where)]
    if "nodes" in rec:
        return tree_examples(rec, where)
    if "trace" in rec and "correct" in rec:
        ex = eval_record_example(rec, where)
        return [ex] if ex else []
    if "steps" in rec and "question" in rec:
        ex = trajectory_example(rec, where, gold)
        return [ex] if ex else []
    if "problem" in rec:
        _require(rec, where, ("problem", "reasoning", "answer"))
        tools = rec.get("tools") or ()
        return [
            Example(
                problem=str(rec["problem"]),
                reasoning=str(rec["reasoning"]),
                answer=str(rec["answer"]),
                system=rec.get("system"),
                tools=tuple(str(t) for t in tools),
            )
        ]
    if "question" in rec or "answer" in rec:
        _require(rec, where, ("question", "answer"))
        convert = gsm8k_react if style == "react" else gsm8k_chain
        return [convert(str(rec["question"]), str(rec["answer"]), where)]
    raise DataError(
        f"{where}: unknown record format with fields {', '.join(rec) or 'none'}; expected "
        "problem/reasoning/answer, question/answer (GSM8K '#### N'), messages, prompt/completion, "
        "a trajectory (question/steps) or a search tree (nodes)"
    )
