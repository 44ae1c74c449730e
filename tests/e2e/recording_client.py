"""Steady traffic that records when it first saw a 5xx: ``python recording_client.py URL OUT``.

Runs until SIGTERM, then writes ``{"sent": n, "first_5xx_at": t | null}`` to OUT. Used to
measure how soon after the first faulty response a rollout rolls back.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time

import httpx


async def main(url: str, out: str, rate: float = 60.0) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    state: dict[str, float | int | None] = {"sent": 0, "first_5xx_at": None}
    async with httpx.AsyncClient(timeout=5) as client:

        async def one() -> None:
            try:
                resp = await client.get(f"{url}/threads")
            except httpx.HTTPError:
                return
            state["sent"] = int(state["sent"] or 0) + 1
            if resp.status_code >= 500 and state["first_5xx_at"] is None:
                state["first_5xx_at"] = time.time()

        tasks: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            task = asyncio.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0 / rate)
            except TimeoutError:
                pass
        await asyncio.gather(*tasks, return_exceptions=True)
    with open(out, "w") as fh:
        json.dump(state, fh)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
