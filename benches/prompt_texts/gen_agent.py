#!/usr/bin/env python3
"""Writes agent_{anthropic,chat,responses}.json: one coding-agent conversation (a long system
prompt, 12 tools, a task as the first user turn, 11 assistant turns with 12 tool calls, the
latest user-side turn a tool result) as an Anthropic Messages, an OpenAI Chat Completions and an
OpenAI Responses request body, shaped like what agent harnesses send.

usage: python3 benches/prompt_texts/gen_agent.py   (deterministic; the outputs are committed)
Read by src/prompt/agent_tests.rs, src/prompt/pins.rs and benches/prompt.rs.
"""
import json
import pathlib

OUT = pathlib.Path(__file__).resolve().parent

SYSTEM = """You are Forge, an autonomous software engineering agent working inside the user's repository.
You operate in a loop: read the task, inspect the code with the tools provided, make focused edits,
run the tests, and stop when the task is complete or you need the user's input.

# Working rules
- Read before you write. Never edit a file you have not opened in this session.
- Prefer the smallest change that fixes the problem. Do not reformat unrelated code.
- Keep the user's code style: indentation, naming, import order, error handling idioms.
- When a command fails, read its output carefully before trying something else.
- Never run destructive commands (rm -rf, git reset --hard, force pushes) without asking.
- Do not invent APIs. If unsure whether a function exists, search the code or the docs first.
- Run the relevant tests after every change; run the whole suite before you finish.
- Use the todo tool to plan tasks with more than three steps and keep it current.
- Paths are relative to the repository root unless they start with a slash.

# Tone
Be concise. Report what you changed and why in a few sentences at the end. Use Markdown code
blocks with the right language tag for code. Do not apologize; do not pad answers.

# Environment
Platform: linux. Shell: bash. The repository is a git checkout; the working tree may be dirty.
Network access is limited to package registries. Long-running commands time out after 120 s.
""" * 3

def obj(props, required):
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False}

S = {"type": "string"}
I = {"type": "integer"}
TOOLS = [
    ("read_file", "Read a file from the repository, optionally a range of lines.",
     obj({"path": {**S, "description": "File path"}, "offset": {**I, "minimum": 0}, "limit": {**I, "minimum": 1}}, ["path"])),
    ("write_file", "Create or overwrite a file.", obj({"path": S, "content": S}, ["path", "content"])),
    ("edit_file", "Replace one exact occurrence of old_string with new_string in a file.",
     obj({"path": S, "old_string": S, "new_string": S, "replace_all": {"type": "boolean", "default": False}}, ["path", "old_string", "new_string"])),
    ("list_dir", "List the entries of a directory.", obj({"path": S, "ignore": {"type": "array", "items": S}}, ["path"])),
    ("glob", "Find files by glob pattern, newest first.", obj({"pattern": S, "path": S}, ["pattern"])),
    ("grep", "Search file contents with a regular expression (ripgrep syntax).",
     obj({"pattern": S, "path": S, "glob": S, "output_mode": {"type": "string", "enum": ["content", "files_with_matches", "count"]},
          "-i": {"type": "boolean"}, "-n": {"type": "boolean"}}, ["pattern"])),
    ("bash", "Run a shell command in the repository and return its output.",
     obj({"command": S, "timeout": {**I, "maximum": 600000}, "description": S}, ["command"])),
    ("web_fetch", "Fetch a URL and return its content as Markdown.", obj({"url": {**S, "format": "uri"}, "prompt": S}, ["url", "prompt"])),
    ("todo_write", "Replace the session's todo list.",
     obj({"todos": {"type": "array", "items": obj({"content": S, "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]},
                                                     "id": S}, ["content", "status", "id"])}}, ["todos"])),
    ("ask_user", "Ask the user a question and wait for the answer.", obj({"question": S}, ["question"])),
    ("run_tests", "Run the project's test suite, or the tests matching a filter.", obj({"filter": S, "verbose": {"type": "boolean"}}, [])),
    ("git_diff", "Show the diff of the working tree against HEAD.", obj({"paths": {"type": "array", "items": S}, "staged": {"type": "boolean"}}, [])),
]

TASK = """Fix this issue in the repository.

Title: `parse_duration("1h30m")` returns 30 minutes instead of 90

Calling `timeutil.parse_duration` with a compound duration only keeps the last unit. For example
`parse_duration("1h30m")` returns `timedelta(minutes=30)` and `parse_duration("2d4h")` returns four
hours. Single units (`"45s"`, `"3h"`) work. Expected: every unit in the string is added up, and an
empty string or an unknown unit raises `ValueError`. Please add tests for the compound cases."""

CONTEXT = "<context>\nCurrent directory: /home/dev/timeutil\nGit branch: main\nRecent commits: 3f2a9c1 release 2.4.0\n</context>"

# (thinking, text, [(tool, input)], [(result, is_error, as_blocks)])
STEPS = [
    ("The bug is in the parser loop; find it.", "I'll look at the parser first.", [("grep", {"pattern": "def parse_duration", "path": "src"})],
     [("src/timeutil/parse.py:12:def parse_duration(text: str) -> timedelta:", False, False)]),
    ("", "", [("read_file", {"path": "src/timeutil/parse.py"})],
     [("1\timport re\n2\tfrom datetime import timedelta\n3\t\n4\tUNITS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400}\n5\t_PART = re.compile(r'(\\d+)([smhd])')\n6\t\n12\tdef parse_duration(text: str) -> timedelta:\n13\t    total = 0\n14\t    for n, unit in _PART.findall(text):\n15\t        total = int(n) * UNITS[unit]\n16\t    return timedelta(seconds=total)\n", False, True)]),
    ("Line 15 assigns instead of adding. Also no validation.", "Line 15 overwrites the total. Let me check the existing tests and plan.",
     [("todo_write", {"todos": [{"id": "1", "content": "Fix accumulation", "status": "in_progress"}, {"id": "2", "content": "Validate input", "status": "pending"},
                                {"id": "3", "content": "Add tests", "status": "pending"}]}), ("glob", {"pattern": "tests/test_parse*.py"})],
     [("Todos updated.", False, False), ("tests/test_parse.py", False, False)]),
    ("", "", [("read_file", {"path": "tests/test_parse.py"})],
     [("1\tfrom datetime import timedelta\n2\tfrom timeutil.parse import parse_duration\n3\t\n4\tdef test_single_units():\n5\t    assert parse_duration('45s') == timedelta(seconds=45)\n6\t    assert parse_duration('3h') == timedelta(hours=3)\n", False, False)]),
    ("Edit the loop.", "", [("edit_file", {"path": "src/timeutil/parse.py", "old_string": "        total = int(n) * UNITS[unit]", "new_string": "        total += int(n) * UNITS[unit]"})],
     [("The file src/timeutil/parse.py has been updated.", False, False)]),
    ("Validation: the whole string must be consumed.", "Now the validation: the parts must cover the whole string.",
     [("edit_file", {"path": "src/timeutil/parse.py", "old_string": "    total = 0\n    for n, unit in _PART.findall(text):",
                     "new_string": "    if not text or _PART.sub('', text):\n        raise ValueError(f'invalid duration: {text!r}')\n    total = 0\n    for n, unit in _PART.findall(text):"})],
     [("The file src/timeutil/parse.py has been updated.", False, False)]),
    ("", "", [("edit_file", {"path": "tests/test_parse.py", "old_string": "    assert parse_duration('3h') == timedelta(hours=3)\n",
                             "new_string": "    assert parse_duration('3h') == timedelta(hours=3)\n\ndef test_compound():\n    assert parse_duration('1h30m') == timedelta(minutes=90)\n    assert parse_duration('2d4h') == timedelta(hours=52)\n\ndef test_invalid():\n    for bad in ['', '5x', '1h 30m']:\n        with pytest.raises(ValueError):\n            parse_duration(bad)\n"})],
     [("The file tests/test_parse.py has been updated.", False, False)]),
    ("", "", [("run_tests", {"filter": "test_parse"})],
     [("FAILED tests/test_parse.py::test_invalid - NameError: name 'pytest' is not defined\n1 failed, 2 passed in 0.04s", True, False)]),
    ("Missing import.", "The test module needs `import pytest`.", [("edit_file", {"path": "tests/test_parse.py", "old_string": "from datetime import timedelta\n",
                                                                                   "new_string": "from datetime import timedelta\n\nimport pytest\n"})],
     [("The file tests/test_parse.py has been updated.", False, False)]),
    ("", "", [("run_tests", {})], [("........................................ [100%]\n40 passed in 0.61s", False, True)]),
    ("Done; show the diff.", "All tests pass. Here is the final diff.", [("git_diff", {})],
     [("diff --git a/src/timeutil/parse.py b/src/timeutil/parse.py\n@@ -12,6 +12,8 @@\n-        total = int(n) * UNITS[unit]\n+        total += int(n) * UNITS[unit]\n", False, False)]),
]


def anthropic():
    msgs = [{"role": "user", "content": [{"type": "text", "text": CONTEXT}, {"type": "text", "text": TASK}]}]
    k = 0
    for thinking, text, calls, results in STEPS:
        blocks = []
        if thinking:
            blocks.append({"type": "thinking", "thinking": thinking, "signature": "EqQBCkYIBxgCKkB" + "x" * 40})
        if text:
            blocks.append({"type": "text", "text": text})
        ids = []
        for name, inp in calls:
            k += 1
            ids.append(f"toolu_{k:02d}")
            blocks.append({"type": "tool_use", "id": ids[-1], "name": name, "input": inp})
        msgs.append({"role": "assistant", "content": blocks})
        res = []
        for i, (out, err, as_blocks) in zip(ids, results):
            content = [{"type": "text", "text": out}] if as_blocks else out
            if as_blocks and k == 2:
                content.append({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgoAAAANSUhEUg=="}})
            block = {"type": "tool_result", "tool_use_id": i, "content": content}
            if err:
                block["is_error"] = True
            res.append(block)
        msgs.append({"role": "user", "content": res})
    msgs[-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}
    body = {"model": "claude-sonnet-4-5", "max_tokens": 32000, "stream": True,
            "thinking": {"type": "enabled", "budget_tokens": 16000},
            "system": [{"type": "text", "text": "You are Forge, an agent for software engineering."},
                       {"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}],
            "tools": [{"name": n, "description": d, "input_schema": s} for n, d, s in TOOLS],
            "messages": msgs}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def chat():
    msgs = [{"role": "developer", "content": SYSTEM},
            {"role": "user", "content": [{"type": "text", "text": CONTEXT}, {"type": "text", "text": TASK}]}]
    k = 0
    for _thinking, text, calls, results in STEPS:
        ids = []
        tc = []
        for name, inp in calls:
            k += 1
            ids.append(f"call_{k:02d}")
            tc.append({"id": ids[-1], "type": "function", "function": {"name": name, "arguments": json.dumps(inp)}})
        msgs.append({"role": "assistant", "content": text or None, "tool_calls": tc})
        for i, (out, _err, as_blocks) in zip(ids, results):
            msgs.append({"role": "tool", "tool_call_id": i, "content": [{"type": "text", "text": out}] if as_blocks else out})
    body = {"model": "gpt-5", "messages": msgs, "stream": True, "parallel_tool_calls": True, "reasoning_effort": "medium",
            "tools": [{"type": "function", "function": {"name": n, "description": d, "parameters": s, "strict": False}} for n, d, s in TOOLS]}
    return json.dumps(body, ensure_ascii=False)  # Python's default separators: ", " and ": "


def responses():
    items = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": CONTEXT}, {"type": "input_text", "text": TASK}]}]
    k = 0
    for thinking, text, calls, results in STEPS:
        items.append({"type": "reasoning", "id": f"rs_{k:02d}", "summary": [{"type": "summary_text", "text": thinking}] if thinking else []})
        if text:
            items.append({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]})
        ids = []
        for name, inp in calls:
            k += 1
            ids.append(f"call_{k:02d}")
            items.append({"type": "function_call", "call_id": ids[-1], "name": name, "arguments": json.dumps(inp)})
        for i, (out, _err, _b) in zip(ids, results):
            items.append({"type": "function_call_output", "call_id": i, "output": out})
    body = {"model": "gpt-5", "instructions": SYSTEM, "input": items, "reasoning": {"effort": "medium", "summary": "auto"},
            "include": ["reasoning.encrypted_content"], "store": False,
            "tools": [{"type": "function", "name": n, "description": d, "parameters": s, "strict": False} for n, d, s in TOOLS]}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


for name, f in [("anthropic", anthropic), ("chat", chat), ("responses", responses)]:
    (OUT / f"agent_{name}.json").write_text(f() + "\n")
