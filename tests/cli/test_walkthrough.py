"""The walk-through ``make serve`` prints, run exactly as printed.

``chronodelta serve --demo`` on a fresh database prints seed 004's tutorial ("Your
First Clocking Integration") as bash commands with curl and python3. Here those
commands run in bash, step by step, against the server that printed them, and each
step's result is checked against what the tutorial says to verify. A step that does
not work as printed fails here, so the text cannot drift from the server.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from chronodelta.cli._serve import print_walkthrough
from chronodelta.domain import CLOCKINGS_FILTER, compile_filter
from chronodelta.server import NewClient
from chronodelta.testing import ServerProcess
from tests.conftest import IN_CI

SCOPES = "connector-protimeapi-clockings.read connector-protimeapi-clockings.write"
CLOCKINGS = "/connector/protimeapi/api/v1/clockings"
DELTA_LINK = re.compile(r"/connector/protimeapi/api/v1/delta/clockings\?deltaToken=[\w.=-]+")
STEP = re.compile(r"^# (\d+)\. ", re.MULTILINE)
ASSIGNED = re.compile(r"^\s*([A-Z_]+)=", re.MULTILINE)


def walkthrough(output: str) -> str:
    """The commands in what the server printed: after the walk-through's title line,
    up to the line that says it is serving."""
    _, _, rest = output.partition("to paste into bash:\n")
    script, found, _ = rest.partition("\nserving on ")
    assert found and script.strip(), f"no walk-through in the output:\n{output}"
    return script


def split_steps(script: str) -> tuple[str, dict[int, str]]:
    """The lines before step 1 (the settings), and each numbered step's text."""
    parts = STEP.split(script)
    preamble, numbers, texts = parts[0], parts[1::2], parts[2::2]
    return preamble, {int(n): f"# {n}. {text}" for n, text in zip(numbers, texts, strict=True)}


@dataclass(frozen=True)
class Ran:
    stdout: str
    stderr: str


class Shell:
    """Runs one step at a time in a new ``bash``, as a reader pastes it into one shell:
    the variables the walk-through sets carry over from step to step (in a file)."""

    def __init__(self, directory: Path, names: list[str]) -> None:
        self.directory = directory
        state = directory / "variables.sh"
        state.touch()
        self.state = shlex.quote(str(state))
        self.names = names
        # python3 is this interpreter (the one-liners use only the standard library).
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        self.env = {**os.environ, "PATH": path}

    def run(self, text: str) -> Ran:
        script = (
            f"set -eo pipefail\nsource {self.state}\n{text}\n"
            f"declare -p {' '.join(self.names)} > {self.state} 2>/dev/null || true\n"
        )
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=self.directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,  # a guard against a hung step, not a measurement
        )
        assert done.returncode == 0, f"{text}\nexit {done.returncode}:\n{done.stderr}"
        return Ran(done.stdout, done.stderr)

    def variable(self, name: str) -> str:
        done = subprocess.run(
            ["bash", "-c", f'source {self.state}; printf %s "${{{name}}}"'],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout


@pytest.fixture
def shell_tools() -> None:
    missing = [tool for tool in ("bash", "curl") if shutil.which(tool) is None]
    if missing:
        message = f"the walk-through needs {' and '.join(missing)} (apt-get install curl)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.mark.usefixtures("shell_tools")
def test_the_printed_walkthrough_runs_as_the_tutorial_says(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"  # empty: serve --demo bootstraps it
    # make serve's defaults, whatever this shell has: several snapshot pages, and the
    # 5-minute overlap that brings step 2's clocking back in step 5.
    defaults = {"CHRONODELTA_PAGE_SIZE": "1000", "CHRONODELTA_DELTA_OVERLAP_SECONDS": "300"}
    with ServerProcess(url, args=["--demo"], env=defaults) as server:
        preamble, steps = split_steps(walkthrough(server.output))
        assert sorted(steps) == [1, 2, 3, 4, 5, 6]
        # The contract's User-Agent, ServiceName/Version (Company), on every request (curl
        # would send one of its own without -A).
        assert re.search(r"^UA='[\w-]+/[\w.]+ \([\w ]+\)'", preamble, re.MULTILINE), preamble
        requests = [line for line in "".join(steps.values()).splitlines() if "curl " in line]
        assert requests and all('-A "$UA"' in line for line in requests), requests
        # The server prints its own address; say so, and point the commands at it.
        printed_base = re.search(r"^BASE=(\S+)$", preamble, re.MULTILINE)
        assert printed_base and printed_base.group(1) == server.base_url
        preamble = preamble.replace(printed_base.group(0), f"BASE={server.base_url}")
        shell = Shell(tmp_path, sorted(set(ASSIGNED.findall(preamble + "".join(steps.values())))))
        shell.run(preamble)

        # 1. A token with both scopes: the reply was a token (200), so python3 found
        # access_token; it prints the scopes granted.
        ran = shell.run(steps[1])
        assert ran.stderr.strip() == SCOPES
        assert re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", shell.variable("TOKEN"))  # a JWT

        # 2. 201 Created with a Location header; ID is the id it names.
        ran = shell.run(steps[2])
        assert ran.stderr.startswith("HTTP/1.1 201 Created\n"), ran.stderr
        location = re.search(r"^location: (\S+)$", ran.stderr, re.MULTILINE | re.IGNORECASE)
        assert location, ran.stderr
        clocking_id = shell.variable("ID")
        assert location.group(1) == f"{CLOCKINGS}/{clocking_id}"

        # 3. The clocking as created, with the changeVersion the system assigned.
        record = json.loads(shell.run(steps[3]).stdout)
        date = record["date"]
        assert record == {
            "changeVersion": record["changeVersion"],
            "id": int(clocking_id),
            "calculatedTimeOfDayInMinutes": 510,
            "isGenerated": False,
            "status": "Active",
            "person": {"id": 1},
            "date": date,
            "timeOfDayInMinutes": 510,
            "kind": "InOut",
        }
        assert re.fullmatch(r"[0-9A-F]{20}", record["changeVersion"])

        # 4. The delta started and walked page by page to its deltaLink: the demo data
        # fills several pages (the server's page size is 1,000).
        ran = shell.run(steps[4])
        pages = ran.stderr.splitlines()
        assert len(pages) >= 2 and all(re.fullmatch(r"\d+ records", p) for p in pages), pages
        first_link = shell.variable("DELTA_LINK")
        assert DELTA_LINK.fullmatch(first_link)
        assert ran.stdout.splitlines() == [first_link]

        # 5. The deltaLink's first call has the clocking of step 2 as InsertOrUpdate,
        # with the changeVersion it already had (the overlap), and a new deltaLink.
        ran = shell.run(steps[5])
        count, *ours = ran.stdout.splitlines()
        assert re.fullmatch(r"\d+ changes", count) and int(count.split()[0]) >= 1
        assert [json.loads(line) for line in ours] == [
            {"changeType": "InsertOrUpdate", "data": record}
        ]
        second_link = shell.variable("DELTA_LINK")
        assert DELTA_LINK.fullmatch(second_link) and second_link != first_link

        # 6. A clocking created after that (201) is the one change of the next poll,
        # as InsertOrUpdate, with the deltaLink to keep for the poll after.
        ran = shell.run(steps[6])
        status, _, body = ran.stdout.partition("\n")
        assert status == "201"
        changes = json.loads(body)
        assert set(changes) == {"value", "deltaLink"}
        [change] = changes["value"]
        assert change["changeType"] == "InsertOrUpdate"
        created = change["data"]
        assert created["id"] != record["id"]
        assert created["changeVersion"] > record["changeVersion"]
        assert {k: created[k] for k in ("person", "date", "timeOfDayInMinutes", "kind")} == {
            "person": {"id": 1},
            "date": date,
            "timeOfDayInMinutes": 1020,
            "kind": "InOut",
        }
        assert changes["deltaLink"] == shell.variable("DELTA_LINK") != second_link


@pytest.mark.parametrize(
    "today",
    [
        dt.date(2026, 1, 1),
        dt.date(2026, 1, 14),
        dt.date(2026, 1, 15),
        dt.date(2026, 12, 1),
        dt.date(2027, 12, 31),
        dt.date(2028, 2, 29),
    ],
)
def test_the_dates_printed_satisfy_the_delta_rules(
    today: dt.date, capsys: pytest.CaptureFixture[str]
) -> None:
    client = NewClient("acme", "cd-0123456789abcdef0123", "secret", ())
    print_walkthrough(client, "127.0.0.1", 8000, today=today)
    script = walkthrough(capsys.readouterr().out + "\nserving on ")
    [start] = re.findall(r"--data-urlencode \"filter=(date ge '(\S+)')\"", script)
    # Seed 001: the start lies in the past and not before January 1st of the previous
    # year (the server's filter compiler refuses it otherwise).
    compile_filter(start[0], CLOCKINGS_FILTER, mode="delta", today=today)
    dates = {dt.date.fromisoformat(d) for d in re.findall(r'"date": "([\d-]+)"', script)}
    assert len(dates) == 1
    # The clockings lie inside the delta, and not in the future.
    assert dt.date.fromisoformat(start[1]) <= dates.pop() <= today
    if today.year == 2026 and today >= dt.date(2026, 1, 15):
        assert (start[0], script.count('"date": "2026-01-15"')) == ("date ge '2026-01-01'", 2)
