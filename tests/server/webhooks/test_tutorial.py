"""docs/webhooks.md's tutorial ("Real-time sync with webhooks", issue 12, item 8), run
block by block in bash against ``chronodelta serve --demo`` (what ``make serve``
runs), with ``scripts/webhook_receiver.py`` as the receiver: it sees a verified event
for the clocking the tutorial creates, and refuses a forged one.

Only the settings block's values are replaced (the server's address and credentials,
a free port for the receiver); every other block runs exactly as written, so the
tutorial cannot drift from the server.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chronodelta.testing import ServerProcess, free_port
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "webhooks.md"
TITLE = "## Tutorial: real-time sync with webhooks"
ASSIGNED = re.compile(r"^\s*([A-Z_]+)=", re.MULTILINE)
WAIT_SECONDS = 60.0


def tutorial_blocks() -> list[str]:
    _, found, rest = DOC.read_text().partition(TITLE)
    assert found, f"no {TITLE!r} in {DOC}"
    section = rest.split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.DOTALL)


def with_settings(block: str, values: dict[str, str]) -> str:
    """The settings block with ``values`` in place of what a reader pastes."""
    for name, value in values.items():
        block, replaced = re.subn(
            rf"^{name}=.*$", f"{name}={shlex.quote(value)}", block, flags=re.MULTILINE
        )
        assert replaced == 1, f"the settings block sets no {name}"
    return block


class Bash:
    """Each block in a new ``bash``, as pasted into one shell: the variables carry over
    (in a file). Output goes to files, not pipes, so a job a block leaves running in the
    background (the receiver) does not hold the block open; it keeps writing there."""

    def __init__(self, directory: Path, names: list[str]) -> None:
        self.directory = directory
        self.state = directory / "variables.sh"
        self.state.touch()
        self.names = names
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        self.env = {**os.environ, "PATH": path}
        self.count = 0

    def run(self, text: str) -> tuple[str, Path]:
        self.count += 1
        out = self.directory / f"block-{self.count}.out"
        state = shlex.quote(str(self.state))
        script = (
            f"set -eo pipefail\nsource {state}\n{text}\n"
            f"declare -p {' '.join(self.names)} > {state} 2>/dev/null || true\n"
        )
        with open(out, "w") as stdout, open(f"{out}.err", "w") as stderr:
            done = subprocess.run(
                ["bash", "-c", script],
                cwd=ROOT,
                env=self.env,
                stdout=stdout,
                stderr=stderr,
                timeout=120,  # a guard against a hung block, not a measurement
            )
        errors = Path(f"{out}.err").read_text()
        assert done.returncode == 0, f"{text}\nexit {done.returncode}:\n{errors}"
        return out.read_text(), out

    def variable(self, name: str) -> str:
        done = subprocess.run(
            ["bash", "-c", f'source {shlex.quote(str(self.state))}; printf %s "${{{name}}}"'],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout


def wait_for_text(path: Path, text: str) -> str:
    deadline = time.monotonic() + WAIT_SECONDS
    while text not in (found := path.read_text()):
        assert time.monotonic() < deadline, f"{text!r} never appeared in:\n{found}"
        time.sleep(0.05)
    return found


@pytest.fixture
def shell_tools() -> None:
    missing = [tool for tool in ("bash", "curl") if shutil.which(tool) is None]
    if missing:
        message = f"the tutorial needs {' and '.join(missing)} (apt-get install curl)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.mark.usefixtures("shell_tools")
def test_the_webhook_tutorial_runs_as_written(tmp_path: Path) -> None:
    blocks = tutorial_blocks()
    assert [int(b.split(".", 1)[0].lstrip("# ")) for b in blocks] == list(range(9))
    url = f"sqlite:///{tmp_path / 'fresh.db'}"  # empty: serve --demo bootstraps it
    with ServerProcess(url, args=["--demo"]) as server:
        client_id = re.search(r"client_id:\s+(\S+)", server.output)
        secret = re.search(r"client_secret:\s+(\S+)", server.output)
        assert client_id and secret, server.output
        receiver = f"http://127.0.0.1:{free_port()}/hooks"
        settings = {
            "BASE": server.base_url,
            "CLIENT_ID": client_id.group(1),
            "CLIENT_SECRET": secret.group(1),
            "RECEIVER": receiver,
        }
        bash = Bash(tmp_path, sorted(set(ASSIGNED.findall("\n".join(blocks)))))
        try:
            run_tutorial(bash, blocks, settings, receiver)
        finally:
            pid = bash.variable("RECEIVER_PID")
            if pid:  # the tutorial's last block stops it; a failure before may not have
                with_receiver_gone(int(pid))


def run_tutorial(bash: Bash, blocks: list[str], settings: dict[str, str], receiver: str) -> None:
    bash.run(with_settings(blocks[0], settings))
    bash.run(blocks[1])
    registered, _ = bash.run(blocks[2])
    # Contract, "Webhooks": 201 with the webhook and its private key.
    assert '"status": "Enabled"' in registered and '"signingKey": "whsec_' in registered
    _, receiver_output = bash.run(blocks[3])
    bash.run(blocks[4])
    created, _ = bash.run(blocks[5])
    clocking_id = created.split()[-1]
    # The receiver printed the event, verified with the key from the POST /webhooks.
    printed = wait_for_text(receiver_output, f"id={clocking_id} ")
    assert "verified msg_" in printed and "clockings InsertOrUpdate" in printed
    changes, _ = bash.run(blocks[6])
    assert f"InsertOrUpdate {clocking_id}" in changes  # the delta has it too
    # A forged delivery: 401, and printed as refused.
    forged = httpx.post(receiver, content=b"{}", headers={"webhook-id": "msg_forged"})
    assert forged.status_code == 401
    wait_for_text(receiver_output, "refused msg_forged")
    log, _ = bash.run(blocks[7])
    assert '"responseStatus": 204' in log
    cleaned, _ = bash.run(blocks[8])
    assert cleaned.strip() == "204"
    pid = int(bash.variable("RECEIVER_PID"))
    deadline = time.monotonic() + WAIT_SECONDS
    while process_alive(pid):
        assert time.monotonic() < deadline, "the receiver did not stop"
        time.sleep(0.05)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie: the bash that started it has gone; it is ended, only not reaped.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def with_receiver_gone(pid: int) -> None:
    if process_alive(pid):
        os.kill(pid, signal.SIGKILL)
