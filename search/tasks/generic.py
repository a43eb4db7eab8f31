"""Any question: free-text thoughts, one per step, the last one ``Answer: ...``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from search.tasks.lines import LineTask

PROPOSE = """Think step by step. Write one short thought per line. When you know the answer, write a last line \
starting with "Answer:".

Question: What is the capital of the country whose largest city is Zurich?
Thoughts:
Zurich is the largest city of Switzerland.
The capital of Switzerland is Bern.
Answer: Bern

Question: $question
Thoughts:
$steps"""

VALUE = """Judge whether the thoughts so far are correct and lead towards the answer (sure/likely/impossible).
Question: What is the capital of the country whose largest city is Zurich?
Thoughts:
Zurich is the largest city of Switzerland.
Judgement:
likely
Question: What is the capital of the country whose largest city is Zurich?
Thoughts:
Zurich is the largest city of Austria.
Judgement:
impossible
Question: $question
Thoughts:
${steps}Judgement:
"""

VOTE = """Several partial lines of thought about a question follow. Decide which choice is most promising. \
Conclude in the last line "The best choice is {s}", where s is the integer id of the choice.
Question: $question
$choices
"""


@dataclass
class Generic(LineTask):
    """Free-text reasoning (see :class:`search.tasks.lines.LineTask` for the options)."""

    name: ClassVar[str] = "generic"
    max_depth: ClassVar[int] = 5
    answer_pattern: ClassVar[re.Pattern] = re.compile(r"^Answer:\s*(.+)$", re.IGNORECASE)
    propose_template: ClassVar[str] = PROPOSE
    value_template: ClassVar[str] = VALUE
    vote_template: ClassVar[str] = VOTE
