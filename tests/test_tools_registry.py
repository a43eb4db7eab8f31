"""The tool registry and the @tool decorator: names, toolsets, schemas, argument checks."""

import uuid

import pytest

from tools import DEFAULT_TOOLS, Tool, ToolNotFound, builtin_names, get_tool, load_tools, tool


@pytest.mark.parametrize("name", ["calculator", "python", "retrieve"])
def test_builtin_tools_load_by_name(name):
    found = get_tool(name)
    assert isinstance(found, Tool)
    assert found.name == name
    assert found.description and found.parameters["type"] == "object"
    assert name in builtin_names()


def test_unknown_tool_names_itself_and_the_builtins():
    with pytest.raises(ToolNotFound, match="unknown tool 'abacus'.*calculator"):
        get_tool("abacus")
    with pytest.raises(ToolNotFound, match="abacus"):
        load_tools("calculator,abacus")


def test_load_tools_from_a_comma_list_and_defaults():
    assert [t.name for t in load_tools("calculator,python")] == ["calculator", "python"]
    assert [t.name for t in load_tools(" retrieve , calculator,")] == ["retrieve", "calculator"]
    assert [t.name for t in load_tools(["python", "python"])] == ["python"]
    assert [t.name for t in load_tools()] == list(DEFAULT_TOOLS)


@pytest.fixture
def toolset_module(tmp_path, monkeypatch) -> str:
    name = f"my_tools_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(
        "from tools import tool\n\n"
        "@tool\n"
        "def shout(text: str) -> str:\n"
        '    """Upper-case a text.\n\n    Args:\n        text: what to shout.\n    """\n'
        "    return text.upper()\n\n"
        "@tool(name='add')\n"
        "def add_numbers(a: int, b: int = 1) -> int:\n"
        '    """Add two numbers."""\n'
        "    return a + b\n\n"
        "TOOLS = [shout, add_numbers]\n"
        "NOT_A_TOOL = 42\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_module_attr_toolsets(toolset_module):
    loaded = load_tools(f"{toolset_module}:TOOLS,calculator")
    assert [t.name for t in loaded] == ["shout", "add", "calculator"]
    assert loaded[0](text="hi") == "HI"
    assert loaded[1](a=2) == "3"  # tools return text
    assert get_tool(f"{toolset_module}:shout").name == "shout"


def test_bad_module_attr_specs(toolset_module):
    with pytest.raises(ToolNotFound, match="names 2 tools"):
        get_tool(f"{toolset_module}:TOOLS")
    with pytest.raises(ToolNotFound, match="cannot load"):
        get_tool(f"{toolset_module}:missing")
    with pytest.raises(ToolNotFound, match="cannot load"):
        load_tools("no_such_module_xyz:TOOLS")
    with pytest.raises(ToolNotFound, match="not a Tool"):
        get_tool(f"{toolset_module}:NOT_A_TOOL")


def test_decorator_builds_the_schema_from_hints_and_docstring():
    @tool
    def book(city: str, nights: int, budget: float = 100.0, breakfast: bool = False) -> str:
        """Book a hotel room.

        Args:
            city: where to stay.
            nights: how many nights,
                at least one.
            budget (float): euros per night.
            breakfast: include breakfast.

        Returns:
            a confirmation.
        """
        return f"{city}:{nights}"

    assert book.name == "book"
    assert book.description == "Book a hotel room."
    props = book.parameters["properties"]
    assert {k: v["type"] for k, v in props.items()} == {
        "city": "string",
        "nights": "integer",
        "budget": "number",
        "breakfast": "boolean",
    }
    assert props["nights"]["description"] == "how many nights, at least one."
    assert props["budget"]["description"] == "euros per night."
    assert book.parameters["required"] == ["city", "nights"]
    assert book.signature() == "book(city: string, nights: integer, budget: number, breakfast: boolean)"
    assert book(city="Oslo", nights=2) == "Oslo:2"


def test_check_args():
    calc = get_tool("calculator")
    assert calc.check_args({"expression": "1+1"}) is None
    assert calc.check_args({}) == "missing argument(s) expression"
    assert calc.check_args({"expression": "1", "mode": "x"}).startswith("unknown argument(s) mode")
    assert calc.check_args({"expression": 12}).startswith("argument expression must be")
    search = get_tool("retrieve")
    assert search.check_args({"query": "q", "k": 2}) is None
    assert search.check_args({"query": "q", "k": "2"}).startswith("argument k must be")
    assert search.check_args({"query": "q", "k": True}).startswith("argument k must be")


def test_builtin_schemas():
    assert get_tool("calculator").parameters["required"] == ["expression"]
    assert get_tool("python").parameters["required"] == ["code"]
    assert get_tool("retrieve").parameters["required"] == ["query"]
