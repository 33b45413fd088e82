"""The broker's process: finding it by pid file and command line, free ports, signals, waiting for its exit
(see :mod:`mesh_dev.local.kafka_broker`). Linux and macOS; ``/proc`` when there is one, ``ps`` otherwise."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mesh_dev.local.kafka_broker_layout import KafkaBrokerError, Layout

#: Brokers started by this process: pid -> Popen (so exits are reaped).
CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _cmdline(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return None
    except OSError:
        return None
    proc = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True)  # no /proc
    return proc.stdout.strip() or None


def command_line(pid: int) -> str | None:
    """The command line of ``pid`` (arguments joined by spaces), or None when there is no such process."""
    return _cmdline(pid)


def alive(pid: int) -> bool:
    child = CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie answers kill(0) but is gone
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def _is_our_broker(pid: int, layout: Layout) -> bool:
    """Whether ``pid`` is alive and is the ``kafka.Kafka`` process of this data folder (not a reused pid)."""
    if not alive(pid):
        return False
    cmdline = _cmdline(pid) or ""
    return "kafka.Kafka" in cmdline and str(layout.config) in cmdline


def running_pid(layout: Layout) -> int | None:
    try:
        pid = int(layout.pid.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_our_broker(pid, layout) else None


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the JVM does: TIME_WAIT is no obstacle
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def find_free_port_pair(low: int = 20000, high: int = 32000, tries: int = 200) -> int:
    """A port ``p`` with ``p`` and ``p + 1`` free on 127.0.0.1, below Linux's ephemeral range.

    Staying below the ephemeral range (32768+) keeps client sockets from grabbing the port between this
    check and the broker's bind.
    """
    for _ in range(tries):
        port = random.randrange(low, high - 1)
        if port_free(port) and port_free(port + 1):
            return port
    raise KafkaBrokerError(f"no two adjacent free ports between {low} and {high} on 127.0.0.1")


def die_with_parent() -> None:  # pragma: no cover - runs in the forked child before exec
    """Linux: the broker gets SIGTERM when the thread that started it dies (even on SIGKILL of the parent)."""
    if PRCTL is not None:
        PRCTL(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG


def _load_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


PRCTL = _load_prctl()


def send_signal(pid: int, sig: signal.Signals) -> None:
    try:
        if os.getpgid(pid) == pid:  # the broker leads its own process group
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def wait_exit(pid: int, timeout_s: float) -> bool:
    child = CHILDREN.get(pid)
    if child is not None:
        try:
            child.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return True
    deadline = time.monotonic() + timeout_s
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True
