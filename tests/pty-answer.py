#!/usr/bin/env python3
"""pty-answer.py ANSWER PROG ARGS...: runs PROG with a pseudo-terminal as its
controlling terminal (pty.fork) and types ANSWER followed by a newline after
each prompt ending in ': ' it shows, at most 4 times, once the terminal's
echo is off (a prompt that turns echo off with TCSAFLUSH discards what was
typed before); 10 s without output ends the conversation. Prints what PROG wrote to the terminal and exits with
its status. For testing password prompts read from /dev/tty."""
import os
import pty
import select
import sys
import termios
import time

answer = sys.argv[1].encode() + b"\n"
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
out, answered = b"", 0
while True:
    r, _, _ = select.select([fd], [], [], 10)
    if not r:
        break
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if answered < 4 and out.endswith(b": "):
        for _ in range(1000):  # a bound of 10 s, not a measurement
            if not termios.tcgetattr(fd)[3] & termios.ECHO:
                break
            time.sleep(0.01)
        os.write(fd, answer)
        answered += 1
try:
    os.kill(pid, 9)
except ProcessLookupError:
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
