"""The embedded default backend: local processes behind the built-in router.

``LocalBackend`` runs the stable and the candidate version as local processes
(:mod:`rollguard.backends.local.processes`) and puts the built-in HTTP router
(:mod:`rollguard.backends.local.router`) on ``plan.backend.listen`` in front of them.

Every action is idempotent, because the runner re-drives an action after a crash:

- ``prepare()`` adopts versions that already run (pidfile, or an answering URL) and starts
  the router once per controller process, at weight 0; on resume the weight is whatever the
  next ``set_weight`` says.
- ``rollback()`` sets the weight to 0 *before* anything else, so no request reaches the
  candidate once rollback has begun, then stops the candidate and makes sure stable serves
  (starting it again if it died). It works also when ``prepare()`` was not called in this
  controller process (a resume straight into rolling back).
- Counters survive a router restart inside one backend: they live in one
  :class:`~rollguard.backends.local.stats.RouterStats` the backend owns.

Externally managed versions (a URL that answered before rollguard started anything) are used
but never stopped.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from rollguard.backends.base import BackendContext, TrafficStats
from rollguard.backends.local import processes
from rollguard.backends.local import router as router_mod
from rollguard.backends.local import stats as stats_mod
from rollguard.errors import PermanentError
from rollguard.plan import model


class LocalBackend:
    """Local processes plus the built-in router (a :class:`rollguard.backends.base.Backend`).

    Example::

        backend = LocalBackend(BackendContext(plan=plan, run_dir=run, base_dir=plan_dir))
        await backend.prepare()          # both versions healthy, router at weight 0
        await backend.set_weight(5)
        traffic = backend.traffic().window("candidate", since=t0, until=t1)
        await backend.rollback()         # weight 0 first, then the candidate is stopped
        await backend.close(stop_versions=True)
    """

    def __init__(
        self,
        ctx: BackendContext,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(ctx.plan.backend, model.LocalBackendSpec):
            raise PermanentError(f"LocalBackend got a {ctx.plan.backend.kind!r} backend spec")
        self._ctx = ctx
        self._spec: model.LocalBackendSpec = ctx.plan.backend
        self._rng = rng
        self._stats = stats_mod.RouterStats(clock=clock)
        self._router: router_mod.Router | None = None
        self._versions: dict[str, processes.VersionProcess] = {}

    @property
    def router(self) -> router_mod.Router | None:
        """The running router (None before ``prepare()`` or after ``close()``)."""
        return self._router

    def _version_spec(self, role: str) -> model.VersionSpec:
        return self._ctx.plan.stable if role == "stable" else self._ctx.plan.candidate

    async def _ensure_version(self, role: str) -> processes.VersionProcess:
        known = self._versions.get(role)
        if known is not None and processes.is_running(known):
            if await processes.probe(known.health_url) is None:
                return known
        proc = await processes.ensure_running(
            self._version_spec(role),
            role=role,
            run_dir=self._ctx.run_dir,
            base_dir=self._ctx.base_dir,
            log=self._ctx.log,
        )
        self._versions[role] = proc
        return proc

    async def _ensure_router(self, *, weight: int) -> router_mod.Router:
        if self._router is None:
            host, _, port = self._spec.listen.rpartition(":")
            router = router_mod.Router(
                host=host.strip("[]"),
                port=int(port),
                stable_url=self._ctx.plan.stable.url,
                candidate_url=self._ctx.plan.candidate.url,
                weight=weight,
                rng=self._rng,
                stats=self._stats,
            )
            try:
                await router.start()
            except OSError as exc:
                raise PermanentError(
                    f"the router cannot listen on {self._spec.listen}: {exc}"
                ) from exc
            self._router = router
            self._ctx.log(f"router: listening on {router.url}, {weight}% to the candidate")
        return self._router

    async def prepare(self) -> None:
        """Make stable and candidate run and serve, and start the router at weight 0."""
        await self._ensure_version("stable")
        await self._ensure_version("candidate")
        await self._ensure_router(weight=0)

    async def set_weight(self, weight: int) -> None:
        """Send ``weight`` percent of the next requests to the candidate."""
        if self._router is None:
            raise PermanentError("set_weight() before prepare(): the router is not running")
        self._router.set_weight(weight)
        self._ctx.log(f"router: {weight}% of new requests to the candidate")

    async def promote(self) -> None:
        """Everything to the candidate, then stop the old stable (unless externally managed)."""
        await self.set_weight(100)
        stable = self._versions.get("stable")
        if stable is None:
            stable = await self._ensure_version("stable")  # e.g. a resume straight into promote
        if stable.external:
            self._ctx.log(f"stable {stable.version}: externally managed, left running")
            return
        if self._router is not None:
            await self._router.drain("stable", timeout=self._spec.stop_timeout)
        await processes.stop(
            stable, run_dir=self._ctx.run_dir, timeout=self._spec.stop_timeout, log=self._ctx.log
        )

    async def rollback(self) -> None:
        """Weight 0 first, then stop the candidate, then make sure stable is healthy.

        A router that cannot listen (its address taken) does not stop the rollback: without a
        router in this controller no request reaches the candidate through rollguard, and
        retiring the candidate and keeping stable healthy matter more than serving.
        """
        try:
            router: router_mod.Router | None = await self._ensure_router(weight=0)
        except PermanentError as exc:
            router = None
            self._ctx.log(f"router: not serving during the rollback ({exc.message})")
        if router is not None:
            router.set_weight(0)
            self._ctx.log("router: rollback, 0% to the candidate")
            # Requests already sent to the candidate may finish before it is stopped.
            await router.drain("candidate", timeout=self._spec.stop_timeout)
        candidate = self._versions.get("candidate")
        if candidate is None:
            candidate = _from_pidfile(self._ctx, role="candidate")
        if candidate is not None and not candidate.external:
            await processes.stop(
                candidate,
                run_dir=self._ctx.run_dir,
                timeout=self._spec.stop_timeout,
                log=self._ctx.log,
            )
        self._versions.pop("candidate", None)
        stable = await self._ensure_version("stable")
        self._ctx.log(f"stable {stable.version}: healthy at {stable.health_url}")

    def traffic(self) -> TrafficStats:
        """The router's per-version counters."""
        return self._stats

    async def close(self, *, stop_versions: bool) -> None:
        """Stop the router; with ``stop_versions``, also the versions rollguard runs."""
        router, self._router = self._router, None
        if router is not None:
            await router.stop()
            self._ctx.log(f"router: stopped listening on {router.url}")
        if stop_versions:
            for proc in list(self._versions.values()):
                await processes.stop(
                    proc,
                    run_dir=self._ctx.run_dir,
                    timeout=self._spec.stop_timeout,
                    log=self._ctx.log,
                )
            self._versions.clear()


def _from_pidfile(ctx: BackendContext, *, role: str) -> processes.VersionProcess | None:
    """The version a pidfile names (an earlier controller started it), without probing it."""
    pid = processes.read_pidfile(ctx.run_dir, role)
    if pid is None:
        return None
    spec = ctx.plan.stable if role == "stable" else ctx.plan.candidate
    return processes.VersionProcess(
        role, spec.version, spec.url, processes.health_url(spec), pid, adopted=True
    )


__all__ = ["LocalBackend"]
