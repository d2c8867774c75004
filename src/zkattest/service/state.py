"""What the controllers use, opened in the app's lifespan and kept on ``app.state``."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from litestar import Litestar
from opentelemetry import trace

from ..agents import AgentRuntime, AgentSettings, WorkPool
from ..audit import AuditError
from ..credentials import Verifier
from ..identity import TrustBundle
from ..oauth.nonce import NonceIssuer
from ..oauth.tokens import TokenIssuer
from ..store import Store, StoreError, open_store
from ..store.audit import AuditStore
from .audit import ServiceAudit
from .bootstrap import Resources
from .config import Config
from .policy import provision_authorizer
from .tracing import Tracing, traced_store

if TYPE_CHECKING:
    from .metrics import Metrics

__all__ = ["Services", "iso", "lifespan_for", "services"]

log = logging.getLogger("zkattest.service")
BUNDLE_SEQUENCE = 1
BUNDLE_REFRESH_HINT = 300


def iso(t: float | None) -> str | None:
    if t is None:
        return None
    return (
        _dt.datetime.fromtimestamp(t, _dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


@dataclass
class Services:
    res: Resources
    store: Store
    pool: WorkPool
    runtime: AgentRuntime
    verifier: Verifier
    bundle: TrustBundle
    tokens: TokenIssuer
    nonces: NonceIssuer
    metrics: Metrics
    tracing: Tracing
    #: this process's audit chain (:mod:`.audit`)
    audit: ServiceAudit
    #: the service's own spans (policy.decide, oauth.*): a no-op tracer when tracing is off
    tracer: trace.Tracer
    clock: Callable[[], float] = time.time
    swept: dict[str, int] = field(default_factory=dict)
    #: verification id -> when its RP last polled while awaiting approval (CIBA slow_down)
    polls: dict[str, float] = field(default_factory=dict)

    @property
    def config(self) -> Config:
        return self.res.config


def nonce_key(res: Resources) -> bytes:
    """The DPoP nonce MAC key, derived from the OAuth signing key: replicas sharing the
    key accept each other's nonces, and there is no second secret file to distribute."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"zkattest dpop-nonce v1")
    return hkdf.derive(res.oauth.key.to_pem())


def services(app: Litestar) -> Services:
    svc = app.state.get("zk")
    assert isinstance(svc, Services)
    return svc


async def _sweeper(svc: Services, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            n = await svc.store.sweep(svc.clock())
            for k, v in n.items():
                svc.swept[k] = svc.swept.get(k, 0) + v
            svc.metrics.swept_now(n)
            if any(n.values()):
                log.info("swept expired state: %s", n)
            cutoff = svc.clock() - svc.config.approval_ttl - svc.config.poll_interval
            for vid in [k for k, t in svc.polls.items() if t < cutoff]:
                del svc.polls[vid]
        except StoreError as e:
            log.warning("sweep failed: %s", type(e).__name__)
        try:
            await _audit_tick(svc)
        except Exception as e:  # the sweeper must go on
            log.error("audit tick failed: %s", type(e).__name__)


async def _audit_tick(svc: Services) -> None:
    """The sweeper's audit work: ``agent.expired`` for this process's swept agents,
    forget ended verifications, sign the chain's head (a short unsigned tail)."""
    now = svc.clock()
    try:
        await svc.runtime.audit_expired(now)
    except (StoreError, AuditError) as e:
        log.warning("audit of expired agents failed: %s", type(e).__name__)
    svc.audit.purge(now)
    await svc.audit.checkpoint()


def lifespan_for(
    res: Resources, clock: Callable[[], float], metrics: Metrics, tracing: Tracing
) -> Callable[[Litestar], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        cfg = res.config
        store = traced_store(await open_store(cfg.db_url), tracing, cfg.db_url)
        audit = ServiceAudit(res.audit_key, cfg.chain_id, cast(AuditStore, store), clock=clock)
        try:
            head = await audit.open()  # a restart continues the chain
        except BaseException:
            await store.close()
            raise
        log.info(
            "audit chain %s continues at seq %d",
            cfg.chain_id,
            head.seq + 1 if head is not None else 0,
        )
        pool = WorkPool(
            cfg.n_workers,
            cfg.queue,
            verify_queue=cfg.verify_queue,
            max_batch=cfg.max_batch,
            hooks=metrics,
        )
        verifier = Verifier(
            res.issuers, circuits=[res.vk], keys=res.keys, max_skew_days=cfg.max_skew_days
        )
        runtime = AgentRuntime(
            store=store,
            trust=res.trust,
            verifier=verifier,
            keys=res.keys,
            circuit_id=res.circuit_id,
            pool=pool,
            settings=AgentSettings(
                trust_domain=cfg.trust_domain,
                svid_ttl=cfg.svid_ttl,
                attestation_ttl=cfg.attestation_ttl,
            ),
            clock=clock,
            hooks=metrics,
            tracer=tracing.tracer("zkattest.agents"),
            audit=audit,
        )
        # warm the proving key so the first delegated request does not pay for it
        await asyncio.get_running_loop().run_in_executor(None, res.keys.proving_key, "age_gte")
        svc = Services(
            res=res,
            store=store,
            pool=pool,
            runtime=runtime,
            verifier=verifier,
            bundle=res.trust.bundle(BUNDLE_SEQUENCE, BUNDLE_REFRESH_HINT),
            tokens=TokenIssuer(
                res.oauth.key, res.oauth.kid, cfg.base_url, ttl=cfg.access_token_ttl
            ),
            nonces=NonceIssuer(nonce_key(res)),
            metrics=metrics,
            tracing=tracing,
            audit=audit,
            tracer=tracing.tracer("zkattest.service"),
            clock=clock,
        )
        metrics.pool_stats = pool.stats
        runtime.authorize = provision_authorizer(svc)
        await store.sweep(clock())  # whatever a previous run left in flight
        app.state.zk = svc
        task = asyncio.create_task(_sweeper(svc, cfg.sweep_interval))
        log.info(
            "zkattest serving trust domain %s at %s (%d proof workers)",
            cfg.trust_domain,
            cfg.base_url,
            pool.workers,
        )
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            pool.shutdown()
            await audit.close()  # the final checkpoint
            await store.close()
            tracing.shutdown()  # flushes the spans of the last requests

    return lifespan
