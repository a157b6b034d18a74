"""pytest fixtures: amqp-spy's built-in broker as a subprocess, on a free port.

`amqp-spy --standalone --listen 127.0.0.1:0 --ready --json` prints one JSON line once it
listens ({"url": ..., "port": ...}), then every event as NDJSON (the recording schema). The
fixture reads the first line for the URL and keeps reading the rest in a thread: the tests can
assert on the traffic, and the broker never waits for a full pipe.

The command is `amqp-spy` (npm link, or npm install -g) or, from a clone, node dist/cli.js;
set AMQP_SPY to another command line to choose.
"""

import json
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO_CLI = Path(__file__).resolve().parents[2] / "dist" / "cli.js"


def amqp_spy_command():
    if "AMQP_SPY" in os.environ:
        return shlex.split(os.environ["AMQP_SPY"])
    if REPO_CLI.exists():
        return ["node", str(REPO_CLI)]
    found = shutil.which("amqp-spy")
    if found is None:
        pytest.fail("amqp-spy not found: npm install -g amqp-spy, or set AMQP_SPY")
    return [found]


class SpyBroker:
    """A running amqp-spy: its URL, and the events it has printed so far."""

    def __init__(self, process, ready):
        self.process = process
        self.url = ready["url"]
        self.port = ready["port"]
        self.events = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            with self._changed:
                self.events.append(json.loads(line))
                self._changed.notify_all()

    def wait_for(self, predicate, timeout=3.0):
        """The first event (past or future) the predicate accepts; fails the test on timeout."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                left = deadline - time.monotonic()
                if left <= 0:
                    last = "\n".join(json.dumps(e)[:200] for e in self.events[-5:])
                    pytest.fail(f"no matching event in {timeout} s; the last ones:\n{last}")
                self._changed.wait(left)


@pytest.fixture(scope="session")
def amqp_spy():
    process = subprocess.Popen(
        [*amqp_spy_command(), "--standalone", "--listen", "127.0.0.1:0", "--ready", "--json"],
        stdout=subprocess.PIPE,
        text=True,
    )
    first = process.stdout.readline()
    if not first:
        pytest.fail(f"amqp-spy exited with {process.wait()} before it was ready")
    broker = SpyBroker(process, json.loads(first))
    yield broker
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0
