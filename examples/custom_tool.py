"""A custom tool in a few lines: type hints and a docstring are all the agent needs.

python examples/custom_tool.py
agent solve "How many days from 2024-02-10 to 2024-03-01?" --tools examples.custom_tool:toolset
"""

from datetime import date

from agent import load_model
from agent.app.solve import show_step
from agent.core.react import ReActAgent, ReActConfig
from tools import tool


@tool
def days_between(start: str, end: str) -> str:
    """Count the days from one date to another.

    Args:
        start: the first date, YYYY-MM-DD.
        end: the second date, YYYY-MM-DD.
    """
    return str((date.fromisoformat(end) - date.fromisoformat(start)).days)


toolset = [days_between]


def main(question: str = "How many days are there from 2024-02-10 to 2024-03-01?", model=None) -> str | None:
    agent = ReActAgent(model or load_model(), toolset, ReActConfig(max_steps=4), on_step=show_step)
    return agent.run(question).answer


if __name__ == "__main__":
    print(main())
