#!/usr/bin/python3
"""Drives a program through a pseudo-terminal, for spec/06-tools/repl_spec.lua.

    /usr/bin/python3 pty_session.py STEPS.json -- COMMAND [ARGS...]

STEPS.json: { "env": { name: value, or false to unset it }, "steps": [ { "send": text } | { "expect": regex,
"timeout": seconds } ... ], "exit_timeout": seconds }. Keys are sent as typed (a TAB is "\t",
Ctrl-P "\u0010", Ctrl-D "\u0004"). Each expect waits for the regex to match the output after the
previous match (a Python regular expression). Prints one JSON object: { "ok": bool, "failed": the step that timed out or null,
"status": the exit status or null, "transcript": all output }.
"""

import json
import os
import pty
import re
import select
import signal
import sys
import time


def main():
    steps_path = sys.argv[1]
    assert sys.argv[2] == "--"
    argv = sys.argv[3:]
    with open(steps_path, encoding="utf-8") as f:
        spec = json.load(f)
    env = dict(os.environ)
    for k, v in spec.get("env", {}).items():
        if isinstance(v, str):
            env[k] = v
        else:  # false or null: unset
            env.pop(k, None)

    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)

    out = bytearray()
    seen = 0  # output before this offset was matched already
    failed = None

    def pump(deadline):
        """Reads what is available until the deadline; False once the child closed the pty."""
        remaining = max(0.0, deadline - time.monotonic())
        r, _, _ = select.select([fd], [], [], min(remaining, 0.05))
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return False
            if not data:
                return False
            out.extend(data)
        return True

    open_ = True
    for i, step in enumerate(spec["steps"]):
        if "send" in step:
            os.write(fd, step["send"].encode("utf-8"))
            time.sleep(step.get("pause", 0.05))
        elif "expect" in step:
            pattern = re.compile(step["expect"].encode("utf-8"))
            deadline = time.monotonic() + step.get("timeout", 15)
            while True:
                m = pattern.search(bytes(out), seen)
                if m:
                    seen = m.end()
                    break
                if time.monotonic() > deadline or not open_:
                    failed = {"step": i, "expect": step["expect"]}
                    break
                open_ = pump(deadline)
            if failed:
                break

    status = None
    deadline = time.monotonic() + spec.get("exit_timeout", 10)
    while time.monotonic() < deadline:
        wpid, st = os.waitpid(pid, os.WNOHANG)
        if wpid == pid:
            status = os.waitstatus_to_exitcode(st)
            break
        if open_:
            open_ = pump(deadline)
        else:
            time.sleep(0.02)
    if status is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    while open_ and pump(time.monotonic() + 0.05):
        pass
    print(json.dumps({"ok": failed is None and status == 0, "failed": failed, "status": status,
                      "transcript": out.decode("utf-8", "replace")}))


if __name__ == "__main__":
    main()
