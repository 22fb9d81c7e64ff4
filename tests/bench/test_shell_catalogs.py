"""bench/shell_catalogs.py: tldr pages and NL2Bash lines (small ones written here) become the
tools and requests bench/public_quality.py reads."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from shell_catalogs import first_utility, main  # noqa: E402

TAR = """# tar

> Archiving utility.
> Often combined with a compression method, such as `gzip`.
> More information: <https://www.gnu.org/software/tar/manual/tar.html>.

- [c]reate an archive and write it to a [f]ile:

`tar cf {{path/to/target.tar}} {{path/to/file1}}`

- E[x]tract a (compressed) archive [f]ile into the current directory:

`tar xf {{path/to/source.tar}}`

- Display help:

`tar --help`
"""

FIND_COMMON = """# find

> Find files or directories under a directory tree, recursively.

- Find files by extension:

`find {{root_path}} -name '{{*.ext}}'`

- Display help:

`find --help`
"""

FIND_LINUX = """# find

> Find files on Linux.

- Find files changed today:

`find . -mtime 0`

- Display [h]elp:

`find --help`
"""


def pages(root: Path) -> Path:
    for platform, name, text in [
        ("common", "tar", TAR),
        ("common", "find", FIND_COMMON),
        ("linux", "find", FIND_LINUX),
    ]:
        (root / "pages" / platform).mkdir(parents=True, exist_ok=True)
        (root / "pages" / platform / f"{name}.md").write_text(text, encoding="utf-8")
    return root / "pages"


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_tldr_tools_are_summaries_and_requests_are_unmarked_example_descriptions(
    tmp_path: Path,
) -> None:
    assert main(["tldr", "--pages", str(pages(tmp_path)), "--out", str(tmp_path / "out")]) == 0
    tools = lines(tmp_path / "out" / "tools.jsonl")
    assert tools == [
        {"name": "find", "description": "Find files on Linux."},
        {
            "name": "tar",
            "description": "Archiving utility. Often combined with a compression method, "
            "such as `gzip`.",
        },
    ]
    assert lines(tmp_path / "out" / "queries.jsonl") == [
        {"query": "Find files changed today", "tools": ["find"]},
        {"query": "create an archive and write it to a file", "tools": ["tar"]},
        {
            "query": "Extract a (compressed) archive file into the current directory",
            "tools": ["tar"],
        },
    ]


def test_halves_split_the_requests_by_position(tmp_path: Path) -> None:
    folder = pages(tmp_path)
    for half in ("even", "odd"):
        main(["tldr", "--pages", str(folder), "--out", str(tmp_path / half), "--half", half])
    even = [q["query"] for q in lines(tmp_path / "even" / "queries.jsonl")]
    odd = [q["query"] for q in lines(tmp_path / "odd" / "queries.jsonl")]
    assert even == [
        "Find files changed today",
        "Extract a (compressed) archive file into the current directory",
    ]
    assert odd == ["create an archive and write it to a file"]


@pytest.mark.parametrize(
    ("command", "utility"),
    [
        ("find . -name '*.py' | xargs grep foo", "find"),
        ("sudo -u bob tar cf a.tar b", "tar"),
        ("LC_ALL=C sort file", "sort"),
        ("time -f '%E' find /", "find"),
        ("xargs -I {} rm {}", "rm"),
        ('tmp=$(mktemp -d $(dirname "$1")/XXXXXX)', "mktemp"),
        ('MY=`readlink -f "$0"`', "readlink"),
        ("/usr/bin/find . -type d", "find"),
        ("$ ls -l", "ls"),
        ("w|cut -d' ' -f1", "w"),
        ("sudo env", None),
    ],
)
def test_the_right_tool_of_a_command_is_its_first_utility_past_wrappers(
    command: str, utility: str | None
) -> None:
    assert first_utility(command) == utility


def test_nl2bash_requests_keep_only_utilities_tldr_describes(tmp_path: Path) -> None:
    data = tmp_path / "bash"
    data.mkdir()
    (data / "all.nl").write_text(
        "List python files recursively\nPack the folder\nRun my script\n", encoding="utf-8"
    )
    (data / "all.cm").write_text(
        "find . -name '*.py'\nsudo tar cf a.tar dir\n./my_script.sh\n", encoding="utf-8"
    )
    args = ["nl2bash", "--data", str(data), "--pages", str(pages(tmp_path))]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    assert [t["name"] for t in lines(tmp_path / "out" / "tools.jsonl")] == ["find", "tar"]
    assert lines(tmp_path / "out" / "queries.jsonl") == [
        {"query": "List python files recursively", "tools": ["find"]},
        {"query": "Pack the folder", "tools": ["tar"]},
    ]


def test_nl2bash_files_of_different_lengths_are_refused(tmp_path: Path) -> None:
    data = tmp_path / "bash"
    data.mkdir()
    (data / "all.nl").write_text("one\ntwo\n", encoding="utf-8")
    (data / "all.cm").write_text("ls\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=r"all\.nl has 2 lines, all\.cm 1"):
        main(
            [
                "nl2bash",
                "--data",
                str(data),
                "--pages",
                str(pages(tmp_path)),
                "--out",
                str(tmp_path),
            ]
        )
