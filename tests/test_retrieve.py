"""The retrieve tool: BM25 ranking over a folder of notes, passages, caching, clear errors, and what it refuses to read."""

import logging
import os
import sys
import threading
import time
from pathlib import Path

import pytest

import tools.retrieve as retrieve_module
from tools import ToolError, get_tool
from tools.retrieve import (
    ENV_VAR,
    MAX_WORDS,
    FolderTooLarge,
    NoteFile,
    Retriever,
    make_retrieve_tool,
    read_note,
    split_passages,
    walk_notes,
)

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


# What a planted or mistyped notes folder must not get out of the tool.

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="symlinks and fifos need a POSIX file system")


def sources(folder: Path) -> list[str]:
    return [n.source for n in walk_notes(folder)]


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_a_symlink_to_proc_environ_is_not_read(notes, monkeypatch):
    monkeypatch.setenv("RETRIEVE_PLANTED_SECRET", "hunter2pelican")
    (notes / "env.txt").symlink_to("/proc/self/environ")
    search = make_retrieve_tool(notes)
    assert search(query="hunter2pelican") == "No passage in the notes matches 'hunter2pelican'."
    for query in ("RETRIEVE_PLANTED_SECRET", "PATH HOME ferry"):
        assert "hunter2pelican" not in search(query=query, k=10)
    assert "env.txt" not in sources(notes)


@POSIX
def test_a_symlink_to_a_file_outside_the_folder_is_skipped(tmp_path, caplog):
    notes, outside = tmp_path / "notes", tmp_path / "notes-outside"  # a string prefix of notes would let it in
    notes.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("The vault code is 4411.\n")
    (notes / "ferry.md").write_text("The ferry leaves at 07:15.\n")
    (notes / "secret.txt").symlink_to(outside / "secret.txt")
    (notes / "relative.md").symlink_to("../notes-outside/secret.txt")
    with caplog.at_level(logging.DEBUG, logger="tools.retrieve"):
        text = make_retrieve_tool(notes)(query="vault code", k=5)
    assert text == "No passage in the notes matches 'vault code'."
    assert sources(notes) == ["ferry.md"]
    assert "secret.txt" in caplog.text and "outside" in caplog.text


@POSIX
def test_a_folder_symlink_pointing_outside_is_not_walked(tmp_path):
    notes, outside = tmp_path / "notes", tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    notes.mkdir()
    (outside / "deep" / "secret.md").write_text("The vault code is 4411.\n")
    (notes / "ferry.md").write_text("The ferry leaves at 07:15.\n")
    (notes / "ext").symlink_to(outside, target_is_directory=True)
    assert sources(notes) == ["ferry.md"]
    assert make_retrieve_tool(notes)(query="vault code") == "No passage in the notes matches 'vault code'."


@POSIX
def test_symlinks_inside_the_folder_still_work_and_loops_end(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "ferry.md").write_text("The ferry leaves at 07:15.\n")
    (tmp_path / "link.md").symlink_to("sub/ferry.md")
    (tmp_path / "sub" / "up").symlink_to(tmp_path, target_is_directory=True)  # a loop back to the root
    (tmp_path / "alias").symlink_to(tmp_path / "sub", target_is_directory=True)
    found = sources(tmp_path)
    assert "link.md" in found and os.path.join("sub", "ferry.md") in found
    assert len(found) == 2  # the loop and the second name of sub/ are walked once
    assert make_retrieve_tool(tmp_path)(query="ferry", k=1).startswith("[1] ")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs fifos")
def test_a_fifo_is_skipped_without_hanging(notes):
    os.mkfifo(notes / "pipe.md")  # opening it for reading would block until a writer comes
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(make_retrieve_tool(notes)(query="ferry", k=1)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "retrieve hung on a fifo"
    assert result[0].startswith("[1] ferry.md")
    assert "pipe.md" not in sources(notes)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs fifos")
def test_a_file_swapped_for_a_fifo_after_the_walk_is_not_read(tmp_path):
    note = tmp_path / "note.md"
    note.write_text("ferry\n")
    walked = NoteFile("note.md", str(note), note.stat())
    note.unlink()
    os.mkfifo(note)
    assert read_note(walked) is None  # opened non-blocking, then refused: not a regular file


def test_a_note_over_the_file_cap_is_skipped_with_a_warning(notes, monkeypatch, caplog):
    monkeypatch.setattr(retrieve_module, "MAX_FILE_BYTES", 1000)
    (notes / "dump.txt").write_text("zeppelin " * 200)
    with caplog.at_level(logging.WARNING, logger="tools.retrieve"):
        search = make_retrieve_tool(notes)
        assert search(query="zeppelin", k=1) == "No passage in the notes matches 'zeppelin'."
        assert search(query="ferry", k=1).startswith("[1] ferry.md")  # the other notes are still searched
    assert "dump.txt" in caplog.text and "1,000 bytes" in caplog.text
    assert caplog.text.count("dump.txt") == 1  # once per change of the folder, not on every call


def test_odd_bytes_never_crash(tmp_path):
    (tmp_path / "latin1.txt").write_bytes(b"Caf\xe9 timetable \xff\xfe\x80 ferry at 07:15\n")
    assert "07:15" in make_retrieve_tool(tmp_path)(query="timetable", k=1)


def test_a_folder_over_the_total_cap_is_refused_clearly(tmp_path, monkeypatch):
    monkeypatch.setattr(retrieve_module, "MAX_TOTAL_BYTES", 500)
    for i in range(4):
        (tmp_path / f"note{i}.md").write_text("ferry " * 30)
    with pytest.raises(FolderTooLarge, match=f"more than 500 bytes of .txt/.md notes; point {ENV_VAR}"):
        make_retrieve_tool(tmp_path)  # refused when the tool is built, before a run
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    with pytest.raises(FolderTooLarge, match=str(tmp_path.resolve())):
        get_tool("retrieve")(query="ferry")  # a configuration error: raised, not shown to the model as a result


def test_a_folder_over_the_file_count_is_refused_while_walking(tmp_path, monkeypatch):
    monkeypatch.setattr(retrieve_module, "MAX_FILES", 5)
    for i in range(10):
        (tmp_path / f"image{i}.png").write_bytes(b"")  # every entry counts, notes or not
    with pytest.raises(FolderTooLarge, match="more than 5 files and folders"):
        walk_notes(tmp_path)
    assert isinstance(FolderTooLarge("x"), ValueError)  # the CLI prints a ValueError as one Error line


@pytest.mark.skipif(sys.platform != "linux", reason="walks the root of a Linux file system")
def test_the_whole_disk_is_refused_fast(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "/")
    start = time.perf_counter()
    with pytest.raises(FolderTooLarge, match="retrieve: / holds more than"):
        get_tool("retrieve").run(query="password")
    assert time.perf_counter() - start < 5
