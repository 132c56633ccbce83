"""A transparent stdio pipe that records what a client sends to an MCP server.

    python tee_stdio.py LOGFILE COMMAND [ARGS...]

Runs COMMAND, passes stdin to it line by line (appending each line to LOGFILE
first) and its stdout back unchanged: a test reads LOGFILE to see which
requests really reached the server.
"""

from __future__ import annotations

import subprocess
import sys
import threading


def main() -> None:
    log_path, command = sys.argv[1], sys.argv[2:]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdin is not None and child.stdout is not None

    def answers() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()

    threading.Thread(target=answers, daemon=True).start()
    with open(log_path, "ab") as log:
        for line in sys.stdin.buffer:
            log.write(line)
            log.flush()
            child.stdin.write(line)
            child.stdin.flush()
    child.stdin.close()
    child.wait()


if __name__ == "__main__":
    main()
