"""A question over a local folder of notes, with the `retrieve` tool.

python examples/notes_qa.py "Which port does the staging server listen on?"
"""

import sys
from pathlib import Path

from agent import load_model
from agent.app.solve import show_step
from agent.core.react import ReActAgent, ReActConfig
from tools.retrieve import make_retrieve_tool

NOTES = Path(__file__).parent / "notes"


def main(question: str, model=None, notes: Path = NOTES) -> str | None:
    tools = [make_retrieve_tool(str(notes))]
    agent = ReActAgent(model or load_model(), tools, ReActConfig(max_steps=4), on_step=show_step)
    return agent.run(question).answer


if __name__ == "__main__":
    print(main(sys.argv[1] if len(sys.argv) > 1 else "What is in my notes about the staging server?"))
