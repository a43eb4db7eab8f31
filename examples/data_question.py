"""A data question answered with the sandboxed python tool.

python examples/data_question.py
"""

from agent import load_model
from agent.app.solve import show_step
from agent.core.react import ReActAgent, ReActConfig
from tools import load_tools

SALES = "month,units\nJan,120\nFeb,95\nMar,143\nApr,160\nMay,151\nJun,98"
QUESTION = (
    f"Here is a CSV table:\n{SALES}\nUse python to find the month with the most units and the average units per month."
)


def main(question: str = QUESTION, model=None) -> str | None:
    agent = ReActAgent(model or load_model(), load_tools("python"), ReActConfig(max_steps=5), on_step=show_step)
    return agent.run(question).answer


if __name__ == "__main__":
    print(main())
