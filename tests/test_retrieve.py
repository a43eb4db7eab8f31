"""The retrieve tool: BM25 ranking over a folder of notes, passages, caching, and clear errors."""

import os
from pathlib import Path

import pytest

from tools import ToolError, get_tool
from tools.retrieve import ENV_VAR, MAX_WORDS, Retriever, make_retrieve_tool, split_passages

EXAMPLE_NOTES = Path(__file__).resolve().parents[1] / "examples" / "notes"


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    (tmp_path / "ferry.md").write_text(
        "# Ferry\n\nThe ferry to the mainland leaves the harbour at 07:15 and 16:40 every weekday.\n\n"
        "# Tickets\n\n" + "A return ticket costs 12 euros and can be bought on board. " * 8
    )
    (tmp_path / "bakery.txt").write_text("The bakery on Mill Street sells rye bread for 3 euros a loaf.\n")
    (tmp_path / "lighthouse.md").write_text("The lighthouse was built in 1871 and automated in 1987.\n")
    (tmp_path / ".hidden.md").write_text("secret ferry ferry ferry\n")
    (tmp_path / "image.png").write_bytes(b"ferry ferry")
    return tmp_path


def test_best_passage_first_with_its_source(notes):
    text = make_retrieve_tool(notes)(query="When does the ferry leave?", k=3)
    assert text.startswith("[1] ferry.md (score ")
    assert "07:15" in text.split("\n\n[2]")[0]
    assert "bakery" not in text and "lighthouse" not in text  # no shared words: not listed


def test_k_limits_the_number_of_passages(notes):
    search = make_retrieve_tool(notes)
    assert "[2]" not in search(query="ferry tickets euros bread", k=1)
    both = search(query="euros", k=2)
    assert "[1]" in both and "[2]" in both and "[3]" not in both
    with pytest.raises(ToolError, match="k must be at least 1"):
        search.run(query="ferry", k=0)


def test_hidden_and_other_files_are_ignored(notes):
    text = make_retrieve_tool(notes)(query="secret", k=3)
    assert text == "No passage in the notes matches 'secret'."


def test_passages_follow_headings_and_stay_short():
    text = "# One\n\n" + "alpha word. " * 60 + "\n\n# Two\n\nbeta.\n\n" + "gamma " * 450
    passages = split_passages(text)
    assert passages[0].startswith("# One") and "beta" not in passages[0]
    assert passages[1].startswith("# Two\n\nbeta.")
    assert all(len(p.split()) <= MAX_WORDS for p in passages)
    assert sum(p.count("gamma") for p in passages) == 450  # nothing lost when a long paragraph is cut


def test_small_paragraphs_are_merged():
    passages = split_passages("First short one.\n\nSecond short one.\n\nThird.")
    assert passages == ["First short one.\n\nSecond short one.\n\nThird."]


def test_index_is_cached_and_rebuilt_when_a_file_changes(notes):
    retriever = Retriever(notes)
    first = retriever.index()
    assert retriever.index() is first
    bakery = notes / "bakery.txt"
    bakery.write_text("The bakery now also sells croissants.\n")
    os.utime(bakery, ns=(bakery.stat().st_atime_ns, bakery.stat().st_mtime_ns + 10**9))
    assert retriever.index() is not first
    assert "croissants" in retriever.search("croissants", 1)
    (notes / "new.md").write_text("Pelicans nest on the breakwater.\n")
    assert "new.md" in retriever.search("pelicans", 1)


def test_missing_and_empty_folders_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        make_retrieve_tool(tmp_path / "nope")
    empty = make_retrieve_tool(tmp_path)
    with pytest.raises(ToolError, match=r"no \.txt or \.md files"):
        empty.run(query="anything")
    (tmp_path / "blank.md").write_text("\n\n")
    with pytest.raises(ToolError, match=r"no \.txt or \.md files"):
        empty.run(query="anything")
    gone = tmp_path / "gone"
    gone.mkdir()
    search = make_retrieve_tool(gone)
    gone.rmdir()
    with pytest.raises(ToolError, match="does not exist"):
        search.run(query="anything")


def test_query_without_words_is_refused(notes):
    with pytest.raises(ToolError, match="no searchable words"):
        make_retrieve_tool(notes).run(query="the ?!")


def test_builtin_tool_reads_the_environment_variable(notes, monkeypatch):
    search = get_tool("retrieve")
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(ToolError, match=ENV_VAR):
        search.run(query="ferry")
    monkeypatch.setenv(ENV_VAR, str(notes))
    assert search(query="lighthouse built", k=1).startswith("[1] lighthouse.md")
    assert search.parameters["required"] == ["query"]
    assert search.parameters["properties"]["k"]["type"] == "integer"


def test_example_notes_answer_the_example_question():
    text = make_retrieve_tool(EXAMPLE_NOTES)(query="Which port does the staging server listen on?", k=2)
    first = text.split("\n\n[2]")[0]
    assert first.startswith("[1] staging_server.md")
    assert "8443" in first
