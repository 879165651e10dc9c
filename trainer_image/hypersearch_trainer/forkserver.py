"""A warm trainer process that forks trials, so each trial does not pay for importing torch.

A search on one machine starts many short trainer processes, and importing torch costs about
2.5 CPU-seconds each: more than all the training of a 1% trial on flights-3m. With
``HS_FORKSERVER=1`` (or a socket path), ``hypersearch-trainer`` connects to a server that has
imported torch and the trainer once, sends its arguments, environment, working directory and
standard file descriptors, and the server forks a child that runs the trial. The client stays
the process the executor knows: it relays SIGTERM/SIGINT to the child and exits with the child's
exit code; the child kills itself when its client's connection closes (the client was killed),
so stopping the client's process group never leaves a trial running.

Compute stays honest: a forked child's CPU clock starts at the fork, so each trial counts only
its own work, and the server's start-up (its imports, once) is added to the count of the trial
that started it, as is each client's own (~0.07 CPU-s). The server exits after
``HS_FORKSERVER_IDLE_SECONDS`` (60) without trials. Its socket name carries
a hash of the interpreter and of the trainer's code, so a changed trainer never runs in an old
server. Executors opt in (the local runner does); a cluster pod runs one trial and never does.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

IDLE_SECONDS = float(os.environ.get("HS_FORKSERVER_IDLE_SECONDS", "60"))
START_TIMEOUT = 180.0  # importing torch on a loaded 2-core machine can take a minute
STARTUP_ENV = "HS_COMPUTE_BASE_CPU"  # the server's start-up CPU, charged to its first trial


def socket_path(setting: str) -> Path:
    """``HS_FORKSERVER``: ``1`` for the default per-user, per-trainer-version path, or a path."""
    if setting not in ("1", "true", "yes"):
        return Path(setting).expanduser()
    h = hashlib.sha256(sys.executable.encode())
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.read_bytes())
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/hypersearch-{os.getuid()}")
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = base.stat()  # a trial sends its environment (maybe secrets): only to our own server
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise RuntimeError(
            f"HS_FORKSERVER: {base} must be a directory of this user with mode 0700 "
            f"(owner uid {st.st_uid}, mode {oct(st.st_mode & 0o777)}); set HS_FORKSERVER=0 or a path"
        )
    return base / f"trainer-{h.hexdigest()[:12]}.sock"  # short: socket paths max out at 107


# --------------------------------------------------------------------------- client


def _connect(path: Path) -> socket.socket | None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(str(path))
        return s
    except OSError:
        s.close()
        return None


def _connect_or_start(path: Path) -> socket.socket:
    conn = _connect(path)
    if conn is not None:
        return conn
    with open(f"{path}.lock", "a") as lock:  # one client starts the server, the others wait
        fcntl.flock(lock, fcntl.LOCK_EX)
        conn = _connect(path)
        if conn is not None:
            return conn
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a stale socket of a server that died
        with open(f"{path}.log", "ab") as log:
            subprocess.Popen([sys.executable, "-m", "hypersearch_trainer.forkserver", str(path)],
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                             start_new_session=True, close_fds=True)  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            conn = _connect(path)
            if conn is not None:
                return conn
            time.sleep(0.05)
    raise RuntimeError(
        f"the trainer fork server did not start within {START_TIMEOUT:g}s (see {path}.log)"
    )


def run_client(setting: str, argv: list[str]) -> int:
    """Run one trial in a child of the fork server; returns its exit code."""
    conn = _connect_or_start(socket_path(setting))
    # this client's own CPU (start-up; afterwards it only waits) is charged to the trial too
    request = {"argv": argv, "env": dict(os.environ), "cwd": os.getcwd(),
               "client_cpu": time.process_time()}  # fmt: skip
    socket.send_fds(conn, [json.dumps(request).encode() + b"\n"], [0, 1, 2])
    reader = conn.makefile("r")
    first = reader.readline()
    if not first:
        print("hypersearch-trainer: the fork server closed the connection", file=sys.stderr)
        return 1
    pid = int(json.loads(first)["pid"])

    def relay(signum: int, _frame: Any) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    signal.signal(signal.SIGTERM, relay)
    signal.signal(signal.SIGINT, relay)
    line = reader.readline()
    if not line:
        print("hypersearch-trainer: the fork server went away", file=sys.stderr)
        return 1
    code = int(json.loads(line)["exit"])
    return code if code >= 0 else 128 - code  # killed by a signal: the shell's convention


# --------------------------------------------------------------------------- server


def _child(
    conn: socket.socket,
    request: dict[str, Any],
    fds: list[int],
    base_cpu: float,
    others: list[socket.socket],
) -> None:
    """In the forked child: become the trial, then exit with its code."""
    for other in others:  # other trials' connections are not this trial's business
        other.close()
    for target, fd in enumerate(fds[:3]):
        os.dup2(fd, target)
    for fd in fds:
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ.pop("HS_FORKSERVER", None)  # the child is the trial, not another client
    os.environ[STARTUP_ENV] = repr(base_cpu + float(request.get("client_cpu", 0.0)))

    def watch() -> None:  # the client died (killed): the trial must not outlive it
        while conn.recv(64):
            pass
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, daemon=True).start()
    code = 1
    try:
        from hypersearch_trainer.main import main

        sys.argv = ["hypersearch-trainer", *request["argv"]]
        code = main(request["argv"])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve(path: Path) -> None:
    """Import everything a trial needs once, then fork a child per client until idle."""
    import numpy  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import torch  # noqa: F401

    import hypersearch_trainer.loop
    import hypersearch_trainer.main
    import hypersearch_trainer.prepared  # noqa: F401

    startup_cpu = time.process_time()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    listener.bind(str(tmp))
    os.chmod(tmp, 0o600)
    listener.listen(64)
    os.replace(tmp, path)  # clients only ever see a socket that is already listening
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    children: dict[int, socket.socket] = {}
    idle_since = time.monotonic()
    closing_at: float | None = None
    try:
        while True:
            now = time.monotonic()
            if closing_at is None and not children and now - idle_since >= IDLE_SECONDS:
                path.unlink(missing_ok=True)  # new clients start a new server from now on...
                closing_at = now + 1.0  # ...and those already connecting are still served
            if closing_at is not None and not children and now >= closing_at:
                break
            for _key, _ in sel.select(timeout=0.2):
                conn, _ = listener.accept()
                msg, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 3)
                request = json.loads(msg.decode())
                pid = os.fork()
                if pid == 0:
                    sel.close()
                    listener.close()
                    _child(conn, request, fds, startup_cpu, list(children.values()))
                for fd in fds:
                    os.close(fd)
                startup_cpu = 0.0  # charged once, to the first trial
                conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
                children[pid] = conn
            for pid in list(children):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    conn = children.pop(pid)
                    with contextlib.suppress(OSError):
                        conn.sendall(
                            json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n"
                        )
                    conn.close()
                    idle_since = time.monotonic()
    finally:
        if closing_at is None:
            path.unlink(missing_ok=True)
        listener.close()


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
