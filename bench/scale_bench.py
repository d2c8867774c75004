"""Scale-out benchmark: the holder-side proof flow on one SQLite replica, one PostgreSQL
replica and two PostgreSQL replicas (one schema, one data directory, one public URL).

    python bench/scale_bench.py                # full (the lead's quiet-machine run)
    python bench/scale_bench.py --quick        # small N (< 90 s); noisy, for a smoke test
    python bench/scale_bench.py --configs pg-1,pg-2 --database-url postgresql://...

PostgreSQL: ``--database-url``, else ``$ZKATTEST_BENCH_DATABASE_URL``, else
``$ZKATTEST_TEST_DATABASE_URL``; each configuration gets a schema of its own
(``?schema=zkt_bench_<random>``), dropped at the end.  Without a URL only sqlite-1 runs.

The machinery is bench/service_bench.py's (imported, not repeated): its HTTP/1.1
client, ``OwnServer``, the OAuth client (private_key_jwt + DPoP, a fresh proof on every
create and read), the untimed phases (A: create + fetch request URI; B: the holder's
proofs, made by this process) and the timed phase C: one *complete verification* =
POST presentation (mode "proof") + GET /v1/verifications/{id} answering ``completed``
with an attestation.  Per configuration:

- closed loop at each ``--concurrency`` (C connections, each sends its next item when
  the last completed), ``--closed-n`` items each;
- open loop, ``--open-n`` items at ``--open-frac`` x the best closed-loop throughput of
  that configuration (near its capacity; or ``--open-rate``); latency from the
  scheduled send time (no coordinated omission).

Two replicas: replica A starts first (it makes the keys and the schema), then B on the
same data directory with ``public_url`` = A's URL, so the two are one OAuth issuer and
one API.  The generator sends each request to the next replica in turn (round-robin per
request, as a load balancer would: an item's presentation and its read usually go to
different replicas), with the public host in ``Host``.  Every run counts what each
replica got.

CPU, per run, in cores (CPU seconds / wall seconds): the generator (this process,
``time.process_time``), each replica (``/proc/<pid>/stat``), the database ("db": the
PostgreSQL backends serving this configuration's connections, found in
``pg_stat_activity`` by the ``application_name`` each replica's URL sets, plus the
server's background processes -- WAL writer, checkpointer...; a server on another
machine is not seen) and the whole machine (``/proc/stat`` busy time; "other" = busy
minus all of the above: whatever else ran, other clients of the database included).
Everything shares the machine's cores; that is what limits the two-replica figure on a
small machine, and the table says how close the sum came to the core count.

Correctness as in service_bench: every completed verification carries the expected
result, every attestation is verified (agent SVID against the SPIFFE bundle, ES256,
nonce).  JSON to bench/results/scale.json (machine, commit, every run).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import secrets
import sys
import time
import urllib.parse
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import service_bench as sb
from _common import table, write_json
from zkattest.credentials import Issuer, KeyStore
from zkattest.identity.jose import EcKey

CONFIGS = ("sqlite-1", "pg-1", "pg-2")
TARGET_SPEEDUP = 1.6  # the issue's: two replicas vs one, PostgreSQL
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ===================================================================== round-robin client
class RoundRobin:
    """The service_bench Pool interface over several replicas: each request goes to the
    next replica in turn.  Requests are built once with the first replica's host (the
    public URL's) in ``Host``, as a load balancer forwards them."""

    def __init__(self, pools: Sequence[sb.Pool]) -> None:
        self.pools = list(pools)
        self.size = sum(p.size for p in self.pools)
        self.sent = [0] * len(self.pools)
        self._next = 0

    def build(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Sequence[str] = (),
        ctype: bytes = b"application/json",
    ) -> bytes:
        return self.pools[0].build(method, path, body, headers, ctype)

    async def send(self, data: bytes) -> sb.Response:
        i = self._next
        self._next = (i + 1) % len(self.pools)
        self.sent[i] += 1
        return await self.pools[i].send(data)

    async def request(
        self, method: str, path: str, body: bytes | None = None, headers: Sequence[str] = ()
    ) -> sb.Response:
        return await self.send(self.build(method, path, body, headers))

    async def warm(self, n: int) -> None:
        per = math.ceil(n / len(self.pools))
        await asyncio.gather(*(p.warm(per) for p in self.pools))

    def close_idle(self) -> None:
        for p in self.pools:
            p.close_idle()


# ===================================================================== CPU accounting
def _pid_cpu(pid: int, name: str) -> float | None:
    """CPU seconds of process ``pid`` if it is named ``name`` (else None)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    lpar, rpar = stat.find("("), stat.rfind(")")
    if stat[lpar + 1 : rpar] != name:
        return None
    f = stat[rpar + 1 :].split()
    return (int(f[11]) + int(f[12])) / CLK_TCK


def _machine_busy() -> float:
    """Busy CPU seconds of the whole machine since boot (``/proc/stat``)."""
    f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = f[3] + (f[4] if len(f) > 4 else 0)  # idle + iowait
    return (sum(f[:8]) - idle) / CLK_TCK


class DbProbe:
    """The PostgreSQL server processes working for this configuration: the backends of
    its replicas' connections (found by their ``application_name``) and the server's
    own background processes (WAL writer, checkpointer, ...; shared with anyone else
    using the server).  Other clients' backends are not counted (they show as
    "other").  Only a server on this machine can be measured (its pids in /proc)."""

    def __init__(self, url: str, app_prefix: str) -> None:
        self.url = url
        self.prefix = app_prefix
        self.conn: Any = None

    async def open(self) -> None:
        import asyncpg

        self.conn = await asyncpg.connect(strip_params(self.url))

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()

    async def cpu(self) -> dict[int, float]:
        rows = await self.conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE backend_type <> 'client backend'"
            " OR starts_with(application_name, $1)",
            self.prefix,
        )
        out = {}
        for r in rows:
            c = _pid_cpu(int(r[0]), "postgres")
            if c is not None:
                out[int(r[0])] = c
        return out


@dataclass
class CpuSnap:
    t: float
    gen: float
    replicas: list[float | None]
    db: dict[int, float] | None
    machine: float


async def snap(pids: Sequence[int | None], db: DbProbe | None) -> CpuSnap:
    dbcpu = await db.cpu() if db is not None else None
    return CpuSnap(
        sb.clock(),
        time.process_time(),
        [sb._proc_cpu(p) for p in pids],
        dbcpu,
        _machine_busy(),
    )


def cores(a: CpuSnap, b: CpuSnap) -> dict[str, Any]:
    wall = b.t - a.t
    reps = [
        None if x is None or y is None else (y - x) / wall
        for x, y in zip(a.replicas, b.replicas, strict=True)
    ]
    db = None
    if a.db is not None and b.db is not None:  # a backend born during the run: from 0
        db = sum(cpu - a.db.get(pid, 0.0) for pid, cpu in b.db.items()) / wall
    out: dict[str, Any] = {
        "wall_s": wall,
        "generator": (b.gen - a.gen) / wall,
        "replicas": reps,
        "db": db,
        "machine": (b.machine - a.machine) / wall,
    }
    ours = out["generator"] + sum(r or 0.0 for r in reps) + (db or 0.0)
    out["ours"] = ours
    out["other"] = max(0.0, out["machine"] - ours)
    return out


# ===================================================================== one configuration
def with_params(url: str, **params: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k not in params]
    query += list(params.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def strip_params(url: str) -> str:
    """The URL without the store's own parameters (for a plain asyncpg connection)."""
    from zkattest.store.postgres import parse_postgres_url

    return parse_postgres_url(url).dsn


async def drop_schema(url: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(strip_params(url))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@dataclass
class Config:
    name: str
    replicas: int
    db_url: str | None  # None: SQLite in the data directory
    schema: str | None = None
    #: each replica's connections carry application_name <app>-<replica number>
    app: str = ""
    servers: list[sb.OwnServer] = field(default_factory=list)


def server_args(a: argparse.Namespace) -> argparse.Namespace:
    """What OwnServer reads from service_bench's arguments."""
    return argparse.Namespace(
        keep_data=a.keep_data,
        port=None,
        workers=a.workers,
        queue=a.queue,
        server_env=a.server_env,
        profile_server=None,
    )


async def start(cfg: Config, a: argparse.Namespace) -> list[dict[str, Any]]:
    """Replica A (its own temporary data directory, SQLite or the schema), then the
    others on A's data directory with A's URL as their public URL; each ready."""
    sargs = server_args(a)
    ready = []

    def first(data: Path) -> dict[str, str]:
        env = {"ZKATTEST_POLICY_DIR": str(sb.bench_policies(data))}
        if cfg.db_url:
            env["ZKATTEST_DATABASE_URL"] = replica_url(cfg, 0)
        return env

    a_srv = sb.OwnServer(sargs, prepare=first, prefix=f"zka-scale-{cfg.name}-")
    cfg.servers.append(a_srv)
    ready.append(await sb.wait_ready(a_srv.url, a_srv, 180.0))
    for i in range(1, cfg.replicas):
        env = {
            "ZKATTEST_POLICY_DIR": str(a_srv.data / "policies"),
            "ZKATTEST_DATABASE_URL": replica_url(cfg, i),
            "ZKATTEST_PUBLIC_URL": a_srv.url,
        }

        def same(_data: Path, env: dict[str, str] = env) -> dict[str, str]:
            return env

        srv = sb.OwnServer(sargs, prepare=same, data=a_srv.data)
        cfg.servers.append(srv)
        ready.append(await sb.wait_ready(srv.url, srv, 180.0))
    return ready


def replica_url(cfg: Config, i: int) -> str:
    """The database URL of replica ``i``: the same database and schema for all, only
    the connections' application_name tells them apart (for :class:`DbProbe`)."""
    if not cfg.db_url:
        return ""
    return with_params(cfg.db_url, application_name=f"{cfg.app}-{i}")


def stop(cfg: Config) -> None:
    for srv in reversed(cfg.servers):  # A (which owns the data directory) last
        srv.stop()


@dataclass
class Measured:
    run: sb.Run
    cpu: dict[str, Any]
    sent: list[int]

    def summary(self) -> dict[str, Any]:
        s = self.run.summary()
        return {
            **s,
            "cpu_cores": self.cpu,
            "cpu_ms_per_item": per_item(self.cpu, s["achieved_per_s"]),
            "sent_per_replica": self.sent,
        }


def per_item(cpu: dict[str, Any], rate: float) -> dict[str, Any] | None:
    """CPU milliseconds per completed verification, by component, and the rate the
    machine's cores would allow if they did nothing else (cores / ms per item)."""
    if not rate:
        return None

    def ms(c: float | None) -> float | None:
        return None if c is None else c / rate * 1e3

    reps = [ms(r) for r in cpu["replicas"]]
    out: dict[str, Any] = {
        "generator": ms(cpu["generator"]),
        "replicas": reps,
        "replicas_total": sum(r or 0.0 for r in reps),
        "db": ms(cpu["db"]),
    }
    out["total"] = out["generator"] + out["replicas_total"] + (out["db"] or 0.0)
    out["cores_bound_per_s"] = (os.cpu_count() or 1) * 1e3 / out["total"]
    return out


async def measure(
    pool: RoundRobin, pids: Sequence[int | None], db: DbProbe | None, go: Awaitable[None]
) -> tuple[dict[str, Any], list[int]]:
    """Await ``go`` (not started yet); the cores used meanwhile and the requests each
    replica got."""
    sent0 = list(pool.sent)
    s0 = await snap(pids, db)
    await go
    s1 = await snap(pids, db)
    return cores(s0, s1), [x - y for x, y in zip(pool.sent, sent0, strict=True)]


async def run_config(cfg: Config, a: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    store = f"PostgreSQL schema {cfg.schema}" if cfg.db_url else "SQLite"
    print(f"\n=== {cfg.name}: {cfg.replicas} replica(s), store {store}", flush=True)
    out: dict[str, Any] = {
        "replicas": cfg.replicas,
        "store": "postgres" if cfg.db_url else "sqlite",
    }
    db = DbProbe(cfg.db_url, cfg.app) if cfg.db_url else None
    try:
        if db is not None:
            await db.open()
        out["ready"] = await start(cfg, a)
        srv_a = cfg.servers[0]
        url, data = srv_a.url, srv_a.data
        pids = [s.pid for s in cfg.servers]
        shown = {  # a database URL may hold a password: never written out
            k: f"<postgresql URL, schema {cfg.schema}>" if v.startswith("postgres") else v
            for k, v in srv_a.env_shown.items()
        }
        out["server_env"] = shown | {"replica_urls": [s.url for s in cfg.servers]}
        print(f"ready: {', '.join(f'{s.url} (pid {s.pid})' for s in cfg.servers)}", flush=True)
        pools = []
        for s in cfg.servers:
            u = urllib.parse.urlsplit(s.url)
            pools.append(sb.Pool(u.hostname or "127.0.0.1", u.port or 80, a.max_conns))
        pool = RoundRobin(pools)  # one replica: every request to it, counted the same way
        out["client_self_check"] = await sb.self_check(pool, url)  # type: ignore[arg-type]
        key = EcKey.generate()
        sb.register_client(data / "clients.json", a.client_id, key, audiences=[a.audience])
        auth = sb.OAuthClient(url, a.client_id, key)
        await auth.client_credentials(pool)  # type: ignore[arg-type]
        # with two replicas the replayed proof goes to the other one: refused there too
        out["auth_check"] = await sb.auth_check(pool, auth)  # type: ignore[arg-type]
        print(f"auth check: {out['auth_check']}", flush=True)

        wallets = sb.make_wallets(Issuer.load(data / "dev-issuer.json"), a.wallets)
        bench = sb.Bench(pool, wallets, a.min_age, a.timeout, auth)  # type: ignore[arg-type]
        total = a.warmup + a.closed_n * len(a.conc_list) + a.open_n
        items = sb.make_items(total, len(wallets), a.audience, a.min_age)
        prep = sb.Run("prepare", "closed", None, total, a.prep_concurrency)
        await bench.closed_loop(items, a.prep_concurrency, bench.prep_flow, prep)
        out["prepare"] = prep.summary()
        good = sum(it.expected is not None for it in items)
        if good < total:
            raise SystemExit(f"phase A: {good} of {total} prepared: {prep.errors}")
        print(f"phase A: {total} created + fetched, {out['prepare']['achieved_per_s']:.0f}/s; "
              f"phase B: proving on {a.prove_threads} threads ...", flush=True)  # fmt: skip
        tb = sb.prove_all(items, wallets, KeyStore(data / "keys"), a.prove_threads)
        out["prove"] = {"n": total, "wall_s": tb, "per_s": total / tb}
        print(f"    {total} proofs in {tb:.1f} s", flush=True)

        measured: list[Measured] = []
        pos = 0
        if a.warmup:
            w = sb.Run("proof", "warmup", None, a.warmup, 4)
            await bench.closed_loop(items[: a.warmup], 4, bench.proof_flow, w)
            out["warmup"] = w.summary()
            pos = a.warmup
        for c in a.conc_list:
            await asyncio.sleep(a.pause)
            run = sb.Run("proof", "closed", None, a.closed_n, c)
            chunk = items[pos : pos + a.closed_n]
            pos += a.closed_n
            cpu, sent = await measure(
                pool, pids, db, bench.closed_loop(chunk, c, bench.proof_flow, run)
            )
            m = Measured(run, cpu, sent)
            measured.append(m)
            print_row(cfg.name, m)
        best = max(m.run.summary()["achieved_per_s"] for m in measured) if measured else 0.0
        rate = a.open_rate or max(1.0, round(a.open_frac * best))
        if a.open_n:
            await asyncio.sleep(a.pause)
            run = sb.Run("proof", "open", rate, a.open_n, None)
            chunk = items[pos : pos + a.open_n]
            cpu, sent = await measure(
                pool, pids, db, bench.open_loop(chunk, rate, bench.proof_flow, run)
            )
            m = Measured(run, cpu, sent)
            measured.append(m)
            print_row(cfg.name, m)
        pool.close_idle()
        out["runs"] = [m.summary() for m in measured]
        out["best_closed_per_s"] = best
        out["open_rate"] = rate
        out["attestations"] = sb.check_attestations(
            [m.run for m in measured], (await bundle(url)), a.audience, True
        )
        print(f"attestations: {out['attestations']}", flush=True)
        out["logs_tail"] = {s.url: s.tail(5) for s in cfg.servers if s.tail(5).strip()}
    finally:
        stop(cfg)
        if db is not None:
            await db.close()
        if cfg.db_url and cfg.schema:
            await drop_schema(cfg.db_url, cfg.schema)
    out["total_s"] = time.perf_counter() - t0
    return out


async def bundle(url: str) -> bytes:
    st, raw = await asyncio.to_thread(sb._urllib, url, "GET", "/.well-known/spiffe-bundle")
    if st != 200:
        raise SystemExit(f"SPIFFE bundle: HTTP {st}")
    return raw


# ===================================================================== output
def _c(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def row(name: str, s: dict[str, Any]) -> dict[str, Any]:
    cpu = s["cpu_cores"]
    errs = " ".join(f"{k}x{v}" for k, v in sorted(s["errors"].items())) or "0"
    return {
        "config": name,
        "loop": s["mode"],
        "C/rate": s["concurrency"] if s["mode"] == "closed" else f"{s['offered_per_s']:g}/s",
        "n": s["n"],
        "ok": s["completed"],
        "per s": f"{s['achieved_per_s']:.0f}",
        "p50 ms": sb.fmt_ms(s["p50_ms"]),
        "p99 ms": sb.fmt_ms(s["p99_ms"]),
        "errors": errs,
        "503": s["rejected_503"],
        "mismatch": s["result_mismatches"],
        "gen": _c(cpu["generator"]),
        "replicas": "/".join(_c(r) for r in cpu["replicas"]),
        "db": _c(cpu["db"]),
        "other": _c(cpu["other"]),
        "busy": _c(cpu["machine"]),
        "sent": "/".join(str(x) for x in s["sent_per_replica"]),
    }


COLS = [
    "config", "loop", "C/rate", "n", "ok", "per s", "p50 ms", "p99 ms", "errors", "503",
    "mismatch", "gen", "replicas", "db", "other", "busy", "sent",
]  # fmt: skip


def print_row(name: str, m: Measured) -> None:
    r = row(name, m.summary())
    print(
        f"  {r['loop']:<6} {r['C/rate']!s:>7}: {r['ok']}/{r['n']} ok, {r['per s']}/s, "
        f"p50 {r['p50 ms']} p99 {r['p99 ms']} ms; errors {r['errors']}; cores gen {r['gen']} "
        f"replicas {r['replicas']} db {r['db']} other {r['other']} (busy {r['busy']})",
        flush=True,
    )


def comparisons(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    best: dict[str, float] = {k: v.get("best_closed_per_s") or 0.0 for k, v in results.items()}
    out: dict[str, Any] = {"best_closed_per_s": best, "target_pg2_over_pg1": TARGET_SPEEDUP}
    if best.get("pg-1") and best.get("pg-2"):
        out["pg2_over_pg1"] = best["pg-2"] / best["pg-1"]
    if best.get("sqlite-1") and best.get("pg-1"):
        out["pg1_over_sqlite1"] = best["pg-1"] / best["sqlite-1"]
    return out


# ===================================================================== main
def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small N (< 90 s)")
    ap.add_argument("--configs", default=",".join(CONFIGS), help=f"of {', '.join(CONFIGS)}")
    ap.add_argument("--database-url", help="PostgreSQL (default: see above)")
    ap.add_argument("--concurrency", help="closed-loop concurrencies, comma-separated")
    ap.add_argument("--closed-n", type=int, help="items per closed-loop run")
    ap.add_argument("--open-n", type=int, help="items in the open-loop run (0: none)")
    ap.add_argument("--open-frac", type=float, default=0.8,
                    help="open-loop rate as a fraction of the best closed-loop rate")  # fmt: skip
    ap.add_argument("--open-rate", type=float, help="a fixed open-loop rate instead")
    ap.add_argument("--warmup", type=int, help="untimed items before the runs")
    ap.add_argument("--prep-concurrency", type=int, default=16)
    ap.add_argument("--prove-threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--wallets", type=int, default=8)
    ap.add_argument("--max-conns", type=int, default=256, help="connections per replica")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--pause", type=float, help="seconds between runs")
    ap.add_argument("--min-age", type=int, default=sb.MIN_AGE)
    ap.add_argument("--audience", default=sb.AUDIENCE)
    ap.add_argument("--client-id", default="bench-rp")
    ap.add_argument("--workers", type=int, help="ZKATTEST_WORKERS for every replica")
    ap.add_argument("--queue", type=int, help="ZKATTEST_QUEUE for every replica")
    ap.add_argument("--server-env", action="append", default=[], metavar="K=V")
    ap.add_argument("--keep-data", action="store_true")
    ap.add_argument("--no-uvloop", action="store_true")
    ap.add_argument("--json", help="output path (default bench/results/scale.json)")
    a = ap.parse_args()
    q = a.quick
    a.conc_list = [int(x) for x in (a.concurrency or ("4,16" if q else "4,16,64")).split(",")]
    a.closed_n = a.closed_n if a.closed_n is not None else (50 if q else 500)
    a.open_n = a.open_n if a.open_n is not None else (100 if q else 1200)
    a.warmup = a.warmup if a.warmup is not None else (6 if q else 40)
    a.pause = a.pause if a.pause is not None else (0.3 if q else 1.0)
    a.config_list = [c.strip() for c in a.configs.split(",") if c.strip()]
    if not set(a.config_list) <= set(CONFIGS):
        ap.error(f"--configs: of {', '.join(CONFIGS)}")
    a.database_url = (
        a.database_url
        or os.environ.get("ZKATTEST_BENCH_DATABASE_URL")
        or os.environ.get("ZKATTEST_TEST_DATABASE_URL")
    )
    return a


async def amain(a: argparse.Namespace) -> None:
    t_begin = time.perf_counter()
    sb.SERVER_PID = None  # service_bench's single-server CPU column: measured here instead
    results: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    for name in a.config_list:
        if name.startswith("pg") and not a.database_url:
            skipped[name] = "no PostgreSQL URL (--database-url)"
            print(f"\n=== {name}: skipped ({skipped[name]})", flush=True)
            continue
        n = int(name.split("-")[1])
        cfg = Config(name, n, None)
        if name.startswith("pg"):
            cfg.schema = f"zkt_bench_{secrets.token_hex(6)}"
            cfg.db_url = with_params(a.database_url, schema=cfg.schema)
            cfg.app = f"zkbench-{secrets.token_hex(4)}"
        results[name] = await run_config(cfg, a)

    print()
    rows = [row(k, s) for k, v in results.items() for s in v["runs"]]
    print(table(rows, COLS))
    print(
        "cores: gen = this generator; replicas = each zkattest process; db = the PostgreSQL "
        "backends of the replicas' connections + its background processes; other = the rest "
        f"of the machine; busy = the whole machine ({os.cpu_count()} cores)"
    )
    comp = comparisons(results)
    best = comp["best_closed_per_s"]
    print("best closed-loop: " + ", ".join(f"{k} {v:.0f}/s" for k, v in best.items() if v))
    if "pg2_over_pg1" in comp:
        ok = comp["pg2_over_pg1"] >= TARGET_SPEEDUP
        print(
            f"pg-2 / pg-1 = {comp['pg2_over_pg1']:.2f}x (target >= {TARGET_SPEEDUP}x: "
            f"{'met' if ok else 'NOT met'})"
        )
    if "pg1_over_sqlite1" in comp:
        print(f"pg-1 / sqlite-1 = {comp['pg1_over_sqlite1']:.2f}x")
    for name, v in results.items():  # where the cores went in each best closed-loop run
        closed = [s for s in v["runs"] if s["mode"] == "closed"]
        if closed:
            s = max(closed, key=lambda s: s["achieved_per_s"])
            c = s["cpu_cores"]
            m = s["cpu_ms_per_item"]
            print(
                f"{name} at its best ({s['achieved_per_s']:.0f}/s, C={s['concurrency']}): "
                f"generator {_c(c['generator'])} + replicas "
                f"{'+'.join(_c(r) for r in c['replicas'])} + db {_c(c['db'])} = "
                f"{c['ours']:.2f} of {os.cpu_count()} cores, other {c['other']:.2f}; per "
                f"verification {m['total']:.1f} ms CPU (replicas {m['replicas_total']:.1f}, "
                f"db {_c(m['db'])}, generator {m['generator']:.1f}): the cores alone would "
                f"allow {m['cores_bound_per_s']:.0f}/s"
            )
    bad = sum(s["result_mismatches"] for v in results.values() for s in v["runs"])
    invalid = sum(
        n
        for v in results.values()
        for k, n in v["attestations"].items()
        if k.startswith("invalid") or k == "claim_mismatch"
    )
    if bad or invalid:
        print(f"\n!!!!!! {bad} RESULT MISMATCHES, {invalid} BAD ATTESTATIONS !!!!!!")
    total_s = time.perf_counter() - t_begin
    settings: dict[str, Any] = {
        k: getattr(a, k)
        for k in (
            "quick", "conc_list", "closed_n", "open_n", "open_frac", "open_rate", "warmup",
            "prep_concurrency", "prove_threads", "wallets", "max_conns", "workers", "queue",
            "config_list",
        )
    }  # fmt: skip
    settings["event_loop"] = type(asyncio.get_running_loop()).__module__
    settings["database"] = "set" if a.database_url else None  # never the URL itself
    out = write_json(
        "scale",
        {"configs": results, "skipped": skipped, "comparison": comp},
        a.json,
        extra={"config": settings, "loadavg_1_5_15": list(os.getloadavg()), "total_s": total_s},
    )
    print(f"\n{total_s:.0f} s in all; load average {os.getloadavg()[0]:.2f}; JSON: {out}")


def main() -> None:
    a = parse_args()
    if not a.no_uvloop:
        try:
            import uvloop

            uvloop.run(amain(a))
            return
        except ImportError:
            pass
    asyncio.run(amain(a))


if __name__ == "__main__":
    main()
