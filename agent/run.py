"""What ``agent solve`` does: build the model and tools, run a strategy, show or print the result."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from agent.jsonl import append_jsonl
from agent.steps import Step
from agent.text import dumps, for_terminal


def show_step(step: Step) -> None:
    """Print one step of the trace as it happens (what the model and tools wrote cannot drive the terminal)."""
    out = sys.stderr
    click.secho(for_terminal(f"Thought: {step.thought}"), fg="cyan", file=out)
    if step.action is not None:
        click.secho(for_terminal(f"Action: {step.action.tool} {dumps(step.action.args)}"), fg="yellow", file=out)
    if step.observation is not None:
        click.secho(for_terminal(f"Observation: {step.observation}"), fg="red" if step.error else "green", file=out)
    if step.answer is not None:
        click.secho(for_terminal(f"Final Answer: {step.answer}"), bold=True, file=out)


def show_answer(answer: object) -> None:
    """Print the answer on stdout, cleaned like the trace."""
    click.echo(for_terminal(str(answer)) if answer is not None else "(no answer)")


def run_react(
    question: str,
    model_spec: str | None,
    *,
    tools_spec: str | None,
    max_steps: int,
    samples: int,
    temperature: float | None,
    seed: int,
    as_json: bool,
    trace: Path | None,
    verifier: str | None = None,
) -> None:
    """``agent solve`` with the ReAct strategy (and self-consistency when samples > 1, voted by ``verifier``)."""
    from agent.consistency import self_consistency
    from agent.model import load_model
    from agent.react import ReActAgent, ReActConfig
    from tools.base import load_tools

    if verifier is not None and samples < 2:
        raise click.ClickException("--verifier weights the votes of sampled trajectories: give --samples 2 or more")
    tools = load_tools(tools_spec)
    model = load_model(model_spec)
    temp = temperature if temperature is not None else (0.7 if samples > 1 else 0.0)
    config = ReActConfig(max_steps=max_steps, temperature=temp, seed=seed)
    agent = ReActAgent(model, tools, config, on_step=None if as_json else show_step)
    if samples > 1:
        vote = self_consistency(agent, question, samples)
        traj, answer, extra = vote.best, vote.answer, {}
        if verifier is not None:
            from agent.verify import load_verifier, verified_vote

            verdict = verified_vote(load_verifier(verifier), question, vote.trajectories)
            traj, answer, extra = verdict.best, verdict.answer, {"weighted": verdict.totals}
        traj.answer = answer
        traj.stats.update(
            samples=samples,
            votes=vote.votes,
            **extra,
            tokens_all=sum(t.stats.get("tokens", 0) for t in vote.trajectories),
        )
    else:
        traj = agent.run(question)
    if trace is not None:
        append_jsonl(trace, traj.to_dict())
    if as_json:
        record = {"answer": traj.answer, "steps": [s.to_dict() for s in traj.steps], "stats": traj.stats}
        click.echo(dumps({**record, "model": traj.model}))
    else:
        show_answer(traj.answer)


def run_tot(
    question: str,
    model_spec: str | None,
    *,
    task: str,
    algorithm: str,
    beam: int | None,
    evaluator: str | None,
    tree: Path | None,
    seed: int,
    n_generate: int | None = None,
    proposer: str | None = None,
    temperature: float | None,
    as_json: bool,
    trace: Path | None,
) -> None:
    """``agent solve --strategy tot``: a Tree-of-Thoughts search."""
    from agent.model import load_model
    from search import solve

    if proposer is not None and task != "game24":
        raise click.ClickException("--proposer is for --task game24 (the only task with move rules)")
    model = load_model(model_spec)
    kwargs: dict = {} if temperature is None else {"temperature": temperature}
    result = solve(
        question,
        task=task,
        model=model,
        algorithm=algorithm,
        evaluator=evaluator,
        beam=beam,
        n_generate=n_generate,
        task_options={} if proposer is None else {"propose_by": proposer},
        seed=seed,
        **kwargs,
    )
    if tree is not None:
        result.save_tree(tree)
    record = {"question": question, **result.to_dict(), "model": getattr(model, "name", "")}
    if trace is not None:
        append_jsonl(trace, record)
    if as_json:
        click.echo(dumps(record, default=str))
    else:
        for i, step in enumerate(result.best_path, 1):
            click.secho(for_terminal(f"{i}. {step}"), fg="cyan", err=True)
        show_answer(result.answer)
