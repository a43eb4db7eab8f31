"""A math agent: the calculator does the arithmetic, the model plans.

python examples/math_agent.py "A warehouse has 4,817 crates of 296 bottles. How many bottles?"
"""

import sys

from agent import load_model
from agent.app.solve import show_step
from agent.core.react import ReActAgent, ReActConfig
from tools import load_tools


def main(question: str, model=None) -> str | None:
    agent = ReActAgent(model or load_model(), load_tools("calculator"), ReActConfig(max_steps=6), on_step=show_step)
    return agent.run(question).answer


if __name__ == "__main__":
    print(main(sys.argv[1] if len(sys.argv) > 1 else "What is 48713 * 2291?"))
