"""API load: 8 clients posting interactions while 4 read KPIs, for 60 s, against a
`pilotage serve` on 127.0.0.1 with PostgreSQL. Loopback only, bounded in time.

Checks at the end: every acknowledged row (201) is in the database, no row twice, and
prints the p50 / p95 / p99 latency of each endpoint and the throughput.

    .venv/bin/python benchmarks/load.py \
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres] [--seconds 60]

It creates (and drops first) the database `pilotage_load` on that server, fills it with a
generated company (`pilotage generate` + `pilotage import`), creates an admin and one
token per client, then starts the server.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg

HOST = "127.0.0.1"  # loopback only
KPIS = "new_leads,new_customers,lead_conversion_rate,revenue,cac"
PASSWORD = "load-benchmark-passphrase"


@dataclass
class Timings:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)
    acknowledged: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, endpoint: str, seconds: float, status: int) -> None:
        with self.lock:
            self.latencies.setdefault(endpoint, []).append(seconds)
            counts = self.statuses.setdefault(endpoint, {})
            counts[status] = counts.get(status, 0) + 1


def pilotage(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "pilotage", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"pilotage {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def fresh_database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(urlparse(admin_url)._replace(path=f"/{name}"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def request(url: str, token: str, body: dict[str, object] | None = None) -> int:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.read()
        return int(error.code)
    except (urllib.error.URLError, OSError):
        return 0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=16, help="server threads")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="pilotage-load-"))
    url = fresh_database(args.admin_url, "pilotage_load")
    env = {
        **os.environ,
        "PILOTAGE_HOME": str(home),
        "DATABASE_URL": url,
        "PILOTAGE_API_RATE_LIMIT": "1000000",
    }
    print(f"preparing {url} with {args.contacts} contacts ...", flush=True)
    pilotage("generate", "--out", str(home / "company"), "--contacts", str(args.contacts), env=env)
    pilotage("import", str(home / "company"), "--db", url, "--format", "json", env=env)
    pilotage(
        "user",
        "create",
        "loadadmin",
        "--role",
        "admin",
        "--password-stdin",
        "--db",
        url,
        env=env,
        stdin=PASSWORD + "\n",
    )
    tokens = [
        json.loads(
            pilotage("token", "create", "loadadmin", "--db", url, "--format", "json", env=env)
        )["token"]
        for _ in range(args.writers + args.readers)
    ]
    with psycopg.connect(url) as db:
        contacts = [row[0] for row in db.execute("SELECT contact_id FROM contacts LIMIT 500")]
        before = db.execute("SELECT count(*) FROM interactions").fetchone()

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pilotage",
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            "--db",
            url,
            "--threads",
            str(args.threads),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 60
        while request(f"{base}/healthz", "") != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        timings = Timings()
        stop = time.monotonic() + args.seconds

        def writer(number: int, token: str) -> None:
            n = 0
            while time.monotonic() < stop:
                interaction_id = f"load-{number}-{n}"
                body = {
                    "interaction_id": interaction_id,
                    "contact_id": contacts[(number * 7919 + n) % len(contacts)],
                    "occurred_at": "2026-09-30T12:00:00Z",
                    "type": "call",
                }
                started = time.perf_counter()
                status = request(f"{base}/api/v1/interactions", token, body)
                timings.add("POST /interactions", time.perf_counter() - started, status)
                if status == 201:
                    with timings.lock:
                        timings.acknowledged.append(interaction_id)
                n += 1

        def reader(token: str) -> None:
            grains = ("quarter", "month")
            n = 0
            while time.monotonic() < stop:
                started = time.perf_counter()
                status = request(f"{base}/api/v1/kpis?grain={grains[n % 2]}&kpi={KPIS}", token)
                timings.add("GET /kpis", time.perf_counter() - started, status)
                n += 1

        threads = [
            threading.Thread(target=writer, args=(i, tokens[i])) for i in range(args.writers)
        ] + [
            threading.Thread(target=reader, args=(tokens[args.writers + i],))
            for i in range(args.readers)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()

    with psycopg.connect(url) as db:
        stored = [
            row[0]
            for row in db.execute(
                "SELECT interaction_id FROM interactions WHERE interaction_id LIKE 'load-%'"
            )
        ]
        after = db.execute("SELECT count(*) FROM interactions").fetchone()
    acknowledged = set(timings.acknowledged)
    missing = acknowledged - set(stored)
    duplicates = len(stored) - len(set(stored))
    print(
        f"\n{args.writers} writers + {args.readers} KPI readers for {elapsed:.0f} s, "
        f"server with {args.threads} threads, PostgreSQL, {args.contacts} contacts"
    )
    print(
        f"{'endpoint':<22}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}  statuses"
    )
    for endpoint, values in timings.latencies.items():
        print(
            f"{endpoint:<22}{len(values):>9}{len(values) / elapsed:>8.1f}"
            f"{statistics.median(values) * 1000:>9.0f}{percentile(values, 0.95) * 1000:>9.0f}"
            f"{percentile(values, 0.99) * 1000:>9.0f}  {timings.statuses[endpoint]}"
        )
    print(
        f"acknowledged rows: {len(acknowledged)}; stored: {len(set(stored))}; "
        f"missing: {len(missing)}; duplicates: {duplicates}; "
        f"table grew by {(after[0] if after else 0) - (before[0] if before else 0)}"
    )
    ok = not missing and duplicates == 0
    print("OK: every acknowledged row is stored once" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
