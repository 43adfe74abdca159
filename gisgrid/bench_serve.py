"""Slow clients against `gisgrid serve`: ten connections send POST bodies at about 10 KB/s (a
tablet uploading photos over a weak network) while a plain page is asked for; prints the page's
latency for the old model (sync workers, --threads 1) beside the one served now, in one run.

    python -m gisgrid.bench_serve [--clients 10] [--rate 10240] [--workers 2] [--threads 16]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from . import settings

BODY_BYTES = 40 * 1024          # four seconds at 10 KB/s: longer than a page may take, bounded
CHUNK = 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`gisgrid serve` in a child process on a loopback port, with its own instance folder and
    database (a SQLite file in `folder` unless `db` names one; threads None: the command's
    default); stopped (and waited for) on exit."""

    def __init__(self, folder: Path, workers: int = 2, threads: int | None = None, db: str | None = None,
                 **settings: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        folder.mkdir(parents=True, exist_ok=True)
        self.log = open(folder / "serve.log", "wb")
        command = [sys.executable, "-m", "gisgrid", "--db", db or str(folder / "gisgrid.sqlite"), "serve", "--port",
                   str(self.port), "--workers", str(workers)]
        if threads is not None:
            command += ["--threads", str(threads)]
        self.env = _child_env(folder / "instance", **settings)
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=self.env)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the login page answers (the workers have imported the app), or fail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gisgrid serve stopped (exit {self.process.returncode}); see {self.log.name}")
            try:
                with urllib.request.urlopen(self.url + "/login", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gisgrid serve did not answer within {timeout:.0f} s; see {self.log.name}")

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _child_env(instance: Path, **values: str) -> dict:
    """This environment passed on to the server, with its own instance folder (secret key,
    photos) instead of the checkout's: settings reach `gisgrid serve` as in production."""
    return settings.environment_with(INSTANCE_PATH=str(instance), **values)


class SlowClients:
    """`count` connections, each sending one POST /login with a `size` bytes form body at `rate`
    bytes a second, from its own thread; start() returns once every one is sending its body,
    `finished[i]` is set once client i sent all of it. Stopped (sockets closed) by stop()."""

    def __init__(self, url: str, count: int = 10, rate: int = 10 * 1024, size: int = BODY_BYTES):
        self.host, self.port = url.removeprefix("http://").split(":")
        self.rate, self.size, self.stopping = rate, size, threading.Event()
        self.sending = threading.Barrier(count + 1)
        self.finished = [threading.Event() for _ in range(count)]
        self.threads = [threading.Thread(target=self._send, args=(i,), daemon=True) for i in range(count)]

    def start(self, timeout: float = 10.0) -> SlowClients:
        for thread in self.threads:
            thread.start()
        self.sending.wait(timeout)           # every client has sent its headers and a first chunk
        return self

    def _send(self, index: int) -> None:
        head = (f"POST /login HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {self.size}\r\n"
                "Connection: close\r\n\r\n").encode()
        pause = CHUNK / self.rate
        with socket.create_connection((self.host, int(self.port)), timeout=30) as sock:
            sock.sendall(head + b"a" * CHUNK)
            self.sending.wait()
            sent = CHUNK
            try:
                while sent < self.size and not self.stopping.wait(pause):
                    sock.sendall(b"a" * CHUNK)
                    sent += CHUNK
                if sent >= self.size:
                    self.finished[index].set()
                    sock.recv(1024)           # the answer (a refusal: no CSRF token), or the close
            except OSError:
                pass                          # the server closed it, or stop() did

    def all_sending(self) -> bool:
        return not any(event.is_set() for event in self.finished)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=10)


def page_latency(url: str, timeout: float = 60.0) -> float:
    """Seconds until the login page has come back in full."""
    start = time.perf_counter()
    with urllib.request.urlopen(url + "/login", timeout=timeout) as response:
        response.read()
    return time.perf_counter() - start


def measure(folder: Path, workers: int, threads: int, clients: int, rate: int, size: int = BODY_BYTES,
            samples: int = 3) -> dict:
    with Server(folder, workers, threads) as server:
        server.wait_ready()
        idle = min(page_latency(server.url) for _ in range(3))
        loaded = []
        for _ in range(samples):
            # a fresh round of slow clients for each sample, taken while all of them are still
            # sending: what a person waits for a page while the tablets upload
            slow = SlowClients(server.url, clients, rate, size).start()
            try:
                loaded.append(page_latency(server.url))
            finally:
                slow.stop()
    return {"workers": workers, "threads": threads, "idle_s": idle, "median_s": statistics.median(loaded),
            "max_s": max(loaded)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--rate", type=int, default=10 * 1024, help="bytes a second each slow client sends")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16, help="threads per worker of the model measured")
    parser.add_argument("--size", type=int, default=BODY_BYTES, help="bytes of each slow body")
    parser.add_argument("--samples", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gisgrid-bench-serve-") as root:
        for name, threads in (("sync (before)", 1), ("gthread (now)", args.threads)):
            result = measure(Path(root) / name.split()[0], args.workers, threads, args.clients, args.rate,
                             args.size, args.samples)
            print(f"{name:15} workers={result['workers']} threads={result['threads']}: login page "
                  f"{result['idle_s'] * 1000:.0f} ms idle, with {args.clients} clients sending at "
                  f"{args.rate / 1024:.0f} KB/s ({args.size // 1024} KB each): median {result['median_s']:.2f} s, "
                  f"max {result['max_s']:.2f} s", flush=True)


if __name__ == "__main__":  # pragma: no cover
    main()
