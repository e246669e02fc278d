"""A consumer that hands the domain batches of messages and settles each message by its outcome.

- ``ACK``: the effect is stored (or there was nothing to do) → ``ack``.
- ``REJECT``: poison → published to the dead-letter exchange with ``x-error-reason`` /
  ``x-error-detail`` headers (confirmed), then ``ack``: never requeued forever, never dropped silently.
- a transient fault (database unreachable) → the batch is retried with back-off, nothing acked early.
- an unexpected error → ``nack(requeue=True)``, bounded by the queue's ``x-delivery-limit``, after which
  the broker dead-letters the message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aio_pika
import structlog
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage, AbstractQueue

from router.messages import InboundMessage, Outcome, Verdict
from router.storage import is_transient

log = structlog.get_logger("consumer")

Handler = Callable[[list[InboundMessage]], Awaitable[list[Outcome]]]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Backoff:
    first_s: float = 0.2
    max_s: float = 15.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_s, self.first_s * self.factor ** max(0, attempt - 1)))


class DeadLetterer:
    """Publishes a rejected message to ``hotline.dlx`` under its original routing key, with the reason."""

    def __init__(self, dlx: AbstractExchange) -> None:
        self._dlx = dlx

    async def reject(self, message: AbstractIncomingMessage, reason: str, detail: str) -> None:
        headers = dict(message.headers or {})
        headers.update(
            {
                "x-error-reason": reason,
                "x-error-detail": detail,
                "x-original-exchange": message.exchange or "",
                "x-original-routing-key": message.routing_key or "",
            }
        )
        await self._dlx.publish(
            aio_pika.Message(
                body=message.body,
                content_type=message.content_type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=message.message_id,
                correlation_id=message.correlation_id,
                timestamp=message.timestamp,
                headers=headers,
            ),
            routing_key=message.routing_key or "",
            mandatory=True,
        )
        await message.ack()
        log.warning("message_rejected", reason=reason, detail=detail, routing_key=message.routing_key)


class BatchConsumer:
    """Collects up to ``batch_size`` deliveries (waiting at most ``wait_s`` for more) and processes them.

    At most ``concurrency`` batches are in flight; the channel's prefetch bounds what is buffered.
    """

    def __init__(
        self,
        name: str,
        queue: AbstractQueue,
        handler: Handler,
        dead_letterer: DeadLetterer,
        *,
        batch_size: int,
        wait_s: float,
        concurrency: int = 2,
        backoff: Backoff = Backoff(),
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.name = name
        self._queue = queue
        self._handler = handler
        self._dead = dead_letterer
        self._batch_size = batch_size
        self._wait_s = wait_s
        self._backoff = backoff
        self._sleep = sleep
        self._buffer: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._consumer_tag: str | None = None
        self.processed = 0
        self.transient_retries = 0

    async def start(self) -> None:
        self._consumer_tag = await self._queue.consume(self._buffer.put, no_ack=False)
        self._loop_task = asyncio.create_task(self._run(), name=f"batch-consumer-{self.name}")

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Graceful: stop taking new deliveries, finish what is buffered and in flight — for at most
        ``timeout_s`` (e.g. the broker is gone and nothing could be acked anyway), then abort."""
        if self._consumer_tag is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._queue.cancel(self._consumer_tag), 5.0)
            self._consumer_tag = None
        await self._cancel_loop()
        try:
            await asyncio.wait_for(self._drain(), timeout_s)
        except TimeoutError:
            log.warning("consumer_stop_timed_out", consumer=self.name, buffered=self._buffer.qsize())
            await self.abort()

    async def _drain(self) -> None:
        while not self._buffer.empty():
            batch = [self._buffer.get_nowait() for _ in range(min(self._batch_size, self._buffer.qsize()))]
            await self._process(batch)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def abort(self) -> None:
        """Stop at once, finishing nothing: unacked deliveries return to the queue when the channel closes."""
        await self._cancel_loop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        while not self._buffer.empty():
            self._buffer.get_nowait()

    async def _cancel_loop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None

    async def _run(self) -> None:
        while True:
            batch = [await self._buffer.get()]
            deadline = asyncio.get_running_loop().time() + self._wait_s
            while len(batch) < self._batch_size:
                timeout = deadline - asyncio.get_running_loop().time()
                if timeout <= 0 and self._buffer.empty():
                    break
                try:
                    batch.append(
                        self._buffer.get_nowait()
                        if not self._buffer.empty()
                        else await asyncio.wait_for(self._buffer.get(), timeout)
                    )
                except TimeoutError:
                    break
            await self._slots.acquire()
            task = asyncio.create_task(self._process_and_release(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _process_and_release(self, batch: list[AbstractIncomingMessage]) -> None:
        try:
            await self._process(batch)
        finally:
            self._slots.release()

    async def _process(self, batch: list[AbstractIncomingMessage]) -> None:
        inbound = [
            InboundMessage(
                body=m.body,
                routing_key=m.routing_key or "",
                message_id=m.message_id,
                redelivered=bool(m.redelivered),
                received=m.timestamp,
            )
            for m in batch
        ]
        attempt = 0
        while True:
            attempt += 1
            try:
                outcomes = await self._handler(inbound)
                break
            except Exception as exc:
                if is_transient(exc):
                    self.transient_retries += 1
                    delay = self._backoff.delay(attempt)
                    log.warning(
                        "batch_transient_failure",
                        consumer=self.name,
                        attempt=attempt,
                        retry_in_s=delay,
                        error=repr(exc),
                    )
                    await self._sleep(delay)
                    continue
                log.exception("batch_failed", consumer=self.name, size=len(batch))
                for m in batch:
                    with contextlib.suppress(Exception):
                        await m.nack(requeue=True)
                return
        for message, outcome in zip(batch, outcomes, strict=True):
            await self._settle(message, outcome)
        self.processed += len(batch)

    async def _settle(self, message: AbstractIncomingMessage, outcome: Outcome) -> None:
        if outcome.verdict is Verdict.ACK:
            await message.ack()
        else:
            await self._dead.reject(message, outcome.reason or "rejected", outcome.detail or "")
