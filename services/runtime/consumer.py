"""Durable pull consumers: explicit ack after commit, inbox de-duplication, back-off, dead letters.

A handler is a plain function of the parsed message and a ``Handling``, whose session is the
transaction the inbox row, the handler's effect and any outbox messages commit in, and whose
``dependencies`` are the service's own (its Stripe client, say), set once where the service is
composed: routers are declared at module level and no handler closes over anything. The message
is acked only after that commit; a failure naks it with back-off; after ``max_deliver`` failures
(or at once, for a body that does not parse) it is published to ``deadletter.<service>.<consumer>``
with its error and terminated, so the messages behind it keep flowing.

A handler that cannot do its work *now*, through no fault of the message (a shared rate budget is
full), raises ``RetryLater``: nothing commits, the message is put back with the handler's delay, and
the delivery is not a failure: it never leads to a dead letter. JetStream still counts it in
``num_delivered`` (there is no uncounted nak), so on the last delivery the runtime hands the message
back to its stream as a fresh copy (same body and message id, so every inbox still drops it if it
was handled) and acks the spent one: however long the wait, the message keeps its retries.

Batch mode. A subscription may also name a *batch handler* (``subscriber(..., batch=...)``): its
consumer then pulls up to ``batch_max_messages`` at a time and applies them all in ONE transaction
(their inbox rows in one statement, duplicates left out), commits, then acks them all. Per-message
transactions cost a commit and the handler's own statements per message; a batch shares them (see
``benchmarks/README.md``). If the batch's transaction fails for any reason (a poison message, a
conflict, ``RetryLater``), nothing of it commits and its messages are handled again one at a time by
the single handler, exactly as without batches: a bad message fails, retries and dead-letters
alone, and the others commit. Subscriptions without a batch handler are handled one at a time.
"""

import asyncio
import base64
import contextlib
import inspect
import logging
import time
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from uuid import UUID

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from contracts.deadletter import MessageDeadLettered
from contracts.messages import Message
from services.runtime.clock import Clock
from services.runtime.db import Database
from services.runtime.inbox import first_deliveries, first_delivery
from services.runtime.logs import message_context
from services.runtime.metrics import MESSAGE_BATCHES, MESSAGE_HANDLING_SECONDS, MESSAGES_HANDLED
from services.runtime.naming import Namespace
from services.runtime.outbox import add_to_outbox, message_headers

log = logging.getLogger(__name__)

# A batch's second fetch, after its wait: what is waiting comes at once; this only bounds the
# wait when nothing is.
_FILL_FETCH_SECONDS = 0.01

DependenciesT = TypeVar("DependenciesT")
MessageT = TypeVar("MessageT", bound=Message)


@dataclass(frozen=True)
class Handling(Generic[DependenciesT]):
    """What a handler works with besides the message itself.

    A handler names the type of its service's dependencies as ``Handling[ThatType]`` (``None``
    for a service with none); the runtime checks the object given at composition against it.
    """

    session: AsyncSession
    clock: Clock
    subject: str
    delivery: int
    message_id: UUID
    dependencies: DependenciesT
    # The consumer's last delivery of this message: what fails now is dead-lettered, not retried
    # (a Stripe call then records its give-up rather than leaving its step waiting for ever).
    last_delivery: bool

    async def publish(self, subject: str, message: Message) -> None:
        """Send ``message`` once this transaction commits (through the outbox)."""
        await add_to_outbox(self.session, subject, message)


Handler = Callable[[Any, Handling[Any]], Awaitable[None]]


@dataclass(frozen=True)
class Delivered(Generic[MessageT]):
    """One message of a batch, with what ``Handling`` says of a single one."""

    message: MessageT
    subject: str
    delivery: int


@dataclass(frozen=True)
class BatchHandling(Generic[DependenciesT]):
    """What a batch handler works with: one transaction for the whole batch."""

    session: AsyncSession
    clock: Clock
    dependencies: DependenciesT

    async def publish(self, subject: str, message: Message) -> None:
        """Send ``message`` once this transaction commits (through the outbox)."""
        await add_to_outbox(self.session, subject, message)


# Applies every message of the list, in the order given (the stream's), in ``BatchHandling.session``.
BatchHandler = Callable[[list[Delivered[Any]], BatchHandling[Any]], Awaitable[None]]


class RetryLater(Exception):  # noqa: N818 - an instruction to the runtime, not an error
    """Raised by a handler: not now, and not a failure; deliver the message again after
    ``delay_seconds`` (the handler's transaction rolls back)."""

    def __init__(self, delay_seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.delay_seconds = max(0.0, delay_seconds)


class HandleOneAtATime(Exception):  # noqa: N818 - an instruction to the runtime, not an error
    """Raised by a batch handler: these messages need the one-at-a-time path (something in them the
    batch does not apply itself); the batch's transaction rolls back and each is handled on its own."""


@dataclass(frozen=True)
class Subscription:
    subject: str
    stream: str
    durable: str
    model: type[Message]
    handler: Handler
    # What ``Handling[...]`` the handler declared; None when it did not say.
    dependencies_type: type | None = None
    # How many of its messages are handled at once; 1 is one after another, in stream order. More
    # only for messages independent of one another (see "Several messages in flight" below).
    max_in_flight: int = 1
    # Applies many messages in one transaction; ``handler`` stays the path for one at a time.
    batch_handler: BatchHandler | None = None

    def check_dependencies(self, dependencies: object) -> None:
        """Refuse, at composition, dependencies the handler would not know what to do with."""
        expected = self.dependencies_type
        if expected is not None and not isinstance(dependencies, expected):
            raise TypeError(
                f"{self.handler.__qualname__} needs dependencies of type {expected.__qualname__}, "
                f"got {type(dependencies).__qualname__}"
            )


@dataclass
class MessageRouter:
    """The subscriptions of one service, declared next to their handlers."""

    service: str
    subscriptions: list[Subscription] = field(default_factory=list)

    def subscriber(
        self,
        subject: str,
        *,
        stream: str,
        durable: str,
        max_in_flight: int = 1,
        batch: BatchHandler | None = None,
    ) -> Callable[[Handler], Handler]:
        """Registers the decorated handler. ``max_in_flight`` handles that many independent messages at
        once; ``batch``, if given, applies many messages at once and must do to each exactly what the
        handler does (the two do not combine)."""
        if max_in_flight < 1:
            raise ValueError(f"{durable}: max_in_flight must be at least 1")
        if batch is not None and max_in_flight > 1:
            raise ValueError(f"{durable}: a batch handler takes its messages in order, one batch at a time")

        def register(handler: Handler) -> Handler:
            model, dependencies_type = _handler_types(handler)
            self.subscriptions.append(
                Subscription(
                    subject, stream, durable, model, handler, dependencies_type, max_in_flight, batch
                )
            )
            return handler

        return register

    def check_dependencies(self, dependencies: object) -> None:
        for subscription in self.subscriptions:
            subscription.check_dependencies(dependencies)


@dataclass(frozen=True)
class ConsumerPolicy:
    max_deliver: int
    backoff_seconds: tuple[float, ...]
    ack_wait_seconds: float
    batch_size: int = 20
    # Batch mode (subscriptions with a batch handler): at most this many messages a transaction
    # (1 turns batches off), and how long a batch that is not full is given to fill.
    batch_max_messages: int = 200
    batch_max_wait_seconds: float = 0.05

    def delay_after(self, failed_deliveries: int) -> float:
        if not self.backoff_seconds:
            return 0.0
        return self.backoff_seconds[min(failed_deliveries, len(self.backoff_seconds)) - 1]


class Consumer:
    def __init__(
        self,
        service: str,
        subscription: Subscription,
        *,
        js: JetStreamContext,
        database: Database,
        namespace: Namespace,
        clock: Clock,
        policy: ConsumerPolicy,
        dependencies: object = None,
    ) -> None:
        subscription.check_dependencies(dependencies)
        self._service = service
        self._subscription = subscription
        self._js = js
        self._database = database
        self._namespace = namespace
        self._clock = clock
        self._policy = policy
        self._dependencies = dependencies
        self.name = subscription.durable
        self.ready = False
        # Handlings under way when ``max_in_flight`` > 1.
        self._in_flight: set[asyncio.Task[None]] = set()
        self._batching = subscription.batch_handler is not None and policy.batch_max_messages > 1

    async def run(self) -> None:
        while True:
            pull: JetStreamContext.PullSubscription | None = None
            try:
                pull = await self._subscribe()
                self.ready = True
                if self._batching:
                    await self._pull_batches_until_lost(pull)
                else:
                    await self._pull_until_lost(pull)
            except asyncio.CancelledError:
                # Unsubscribed even when stopping: nats-py's fetch leaves its inbox's queue with
                # unfinished items, and the connection's drain at shutdown would otherwise wait on
                # them for its whole timeout.
                self.ready = False
                await self._drop(pull)
                raise
            except Exception as error:  # resubscribe, whatever broke
                self.ready = False
                await self._drop(pull)
                if _being_cancelled():
                    # nats-py can swallow our CancelledError and fail with its own error instead;
                    # resubscribing then would keep a stopping service alive forever.
                    raise asyncio.CancelledError from error
                log.warning("consumer %s lost its subscription: %r; resubscribing", self.name, error)
                await asyncio.sleep(1.0)

    async def _drop(self, pull: JetStreamContext.PullSubscription | None) -> None:
        """Forget a subscription, broken or stopping, so its inbox piles up nowhere."""
        if pull is None:
            return
        with contextlib.suppress(Exception):
            await pull.unsubscribe()

    async def _pull_until_lost(self, pull: JetStreamContext.PullSubscription) -> None:
        if self._subscription.max_in_flight > 1:
            await self._pull_in_flight_until_lost(pull)
            return
        idle_fetches = 0
        while True:
            try:
                batch = await pull.fetch(self._policy.batch_size, timeout=1.0)
            except TimeoutError:  # nats' own TimeoutError and asyncio's both end up here
                idle_fetches += 1
                # An idle fetch cannot tell "nothing to do" from "consumer deleted": ask now and then.
                if idle_fetches % 5 == 0:
                    await pull.consumer_info()
                continue
            idle_fetches = 0
            for raw in batch:
                await self.handle(raw)

    # Several messages in flight (``max_in_flight`` > 1), for a subscription whose every message is
    # independent of the others (a Stripe call: one attempt, its idempotency key already stored),
    # where handling one mostly waits (on a shared request budget, on an HTTP answer). Each message
    # is handled by ``handle`` as ever, in its own task and transaction, and acked, put off or
    # dead-lettered on its own completion, in whatever order they finish. At most ``max_in_flight``
    # are held at once: a fetch asks only for as many as are free, so nothing waits unstarted while
    # its ack wait runs, and memory stays flat however long the stream's backlog. A full consumer
    # fetches again once a quarter of its slots are free, not for each one: a fetch is a request to
    # the server and back, and one per message would add a round trip to every message.

    async def _pull_in_flight_until_lost(self, pull: JetStreamContext.PullSubscription) -> None:
        limit = self._subscription.max_in_flight
        refill = max(1, limit // 4)
        idle_fetches = 0
        try:
            while True:
                while limit - len(self._in_flight) < refill:
                    await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
                wanted = min(self._policy.batch_size, limit - len(self._in_flight))
                try:
                    batch = await pull.fetch(wanted, timeout=1.0)
                except TimeoutError:
                    idle_fetches += 1
                    if idle_fetches % 5 == 0:
                        await pull.consumer_info()
                    continue
                idle_fetches = 0
                for raw in batch:
                    task = asyncio.create_task(self._handle_in_flight(raw))
                    self._in_flight.add(task)
                    task.add_done_callback(self._in_flight.discard)
        finally:
            # Stopping, or the subscription lost: what is under way ends as a crash would end it (its
            # transaction rolls back, its message comes again after the ack wait), never half-done
            # and never left running unbounded beside the next subscription's messages.
            for task in self._in_flight:
                task.cancel()
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def _handle_in_flight(self, raw: Msg) -> None:
        try:
            await self.handle(raw)
        except Exception as error:
            # Handling itself settles every outcome; this is NATS failing under the ack or nak. The
            # message is delivered again after its ack wait, and the others go on.
            log.warning("consumer %s could not settle a message: %r", self.name, error)

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        return await self._js.pull_subscribe(
            self._namespace.subject(self._subscription.subject),
            durable=self._namespace.durable(self.name),
            stream=self._namespace.stream(self._subscription.stream),
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                # One more than ours: a handler that crashed the process on its last attempt
                # still gets a final delivery, which dead-letters it if it fails again.
                max_deliver=self._policy.max_deliver + 1,
                ack_wait=self._policy.ack_wait_seconds,
                max_ack_pending=1000,
            ),
        )

    async def handle(self, raw: Msg) -> None:
        started = time.perf_counter()
        delivery = raw.metadata.num_delivered
        try:
            message = self._subscription.model.model_validate_json(raw.data)
        except ValidationError as error:
            # Retrying cannot make a malformed body valid: give it up at once.
            outcome = await self._dead_letter(raw, error, correlation_id=None, causation_id=None)
            MESSAGES_HANDLED.labels(self.name, outcome).inc()
            return
        with message_context(str(message.message_id), message.correlation_id):
            outcome = await self._apply(raw, message, delivery)
        MESSAGES_HANDLED.labels(self.name, outcome).inc()
        MESSAGE_HANDLING_SECONDS.labels(self.name).observe(time.perf_counter() - started)

    async def _apply(self, raw: Msg, message: Message, delivery: int) -> str:
        subject = self._namespace.logical_subject(raw.subject)
        try:
            async with self._database.transaction() as session:
                fresh = await first_delivery(session, self.name, message.message_id, subject)
                if fresh:
                    handling = Handling(
                        session,
                        self._clock,
                        subject,
                        delivery,
                        message.message_id,
                        self._dependencies,
                        last_delivery=delivery >= self._policy.max_deliver,
                    )
                    await self._subscription.handler(message, handling)
        except RetryLater as later:
            return await self._retry_later(raw, later, delivery)
        except Exception as error:
            if delivery >= self._policy.max_deliver:
                log.error("giving up on message after %d deliveries: %r", delivery, error)
                return await self._dead_letter(
                    raw,
                    error,
                    correlation_id=message.correlation_id,
                    causation_id=message.message_id,
                )
            log.warning("message failed (delivery %d), will retry: %r", delivery, error)
            await raw.nak(delay=self._policy.delay_after(delivery))
            return "retried"
        await raw.ack()
        return "applied" if fresh else "duplicate"

    async def _retry_later(self, raw: Msg, later: RetryLater, delivery: int) -> str:
        if delivery < self._policy.max_deliver:
            log.info("message put off for %.1f s (delivery %d): %s", later.delay_seconds, delivery, later)
            await raw.nak(delay=later.delay_seconds)
            return "deferred"
        # JetStream would stop delivering it soon: a fresh copy starts its count afresh. A copy per
        # spent message (Nats-Msg-Id), however often this runs; it is delivered at once and, if the
        # wait is not over, put off again, so at most one copy in ``max_deliver`` deliveries.
        headers = dict(raw.headers or {})
        headers["Nats-Msg-Id"] = f"later:{self._namespace.durable(self.name)}:{raw.metadata.sequence.stream}"
        try:
            await self._js.publish(raw.subject, raw.data, headers=headers)
        except Exception as publish_error:
            log.error("could not hand the message back, will retry: %r", publish_error)
            await raw.nak(delay=later.delay_seconds)
            return "deferred"
        log.info("message handed back to its stream after %d deliveries put off: %s", delivery, later)
        await raw.ack()
        return "deferred"

    # Batch mode.

    async def _pull_batches_until_lost(self, pull: JetStreamContext.PullSubscription) -> None:
        idle_fetches = 0
        while True:
            try:
                raws = await pull.fetch(self._policy.batch_max_messages, timeout=1.0)
            except TimeoutError:
                idle_fetches += 1
                # An idle fetch cannot tell "nothing to do" from "consumer deleted": ask now and then.
                if idle_fetches % 5 == 0:
                    await pull.consumer_info()
                continue
            idle_fetches = 0
            await self.handle_batch(await self._filled(pull, raws))

    async def _filled(self, pull: JetStreamContext.PullSubscription, raws: list[Msg]) -> list[Msg]:
        """The batch, given a little while to fill when messages are queuing. A fetch returns at once
        with what is waiting: a consumer that keeps up with a steady flow would otherwise apply a
        message or two at a time, paying a transaction's statements for each (they are most of the
        cost). A fetch that brought one message found the consumer waiting for it: the flow is light,
        and that message (a cycle's last debit, say, whose pot a recipient waits for) goes at once.
        Under load the batch is full already and nothing waits."""
        wanted = self._policy.batch_max_messages - len(raws)
        if wanted <= 0 or len(raws) < 2 or self._policy.batch_max_wait_seconds <= 0:
            return raws
        await asyncio.sleep(self._policy.batch_max_wait_seconds)
        try:
            return raws + await pull.fetch(wanted, timeout=_FILL_FETCH_SECONDS)
        except TimeoutError:  # none came meanwhile
            return raws

    async def handle_batch(self, raws: list[Msg]) -> None:
        """Apply ``raws`` in one transaction and ack them; if that fails, handle each on its own."""
        started = time.perf_counter()
        parsed: list[tuple[Msg, Message]] = []
        for raw in raws:
            try:
                parsed.append((raw, self._subscription.model.model_validate_json(raw.data)))
            except ValidationError as error:
                outcome = await self._dead_letter(raw, error, correlation_id=None, causation_id=None)
                MESSAGES_HANDLED.labels(self.name, outcome).inc()
        if not parsed:
            return
        try:
            applied = await self._apply_batch(parsed)
        except HandleOneAtATime as reason:
            log.info("batch of %d messages handled one at a time: %s", len(parsed), reason)
            for raw, _ in parsed:
                await self.handle(raw)
            return
        except Exception as error:  # RetryLater too: each message then gets its own say
            log.warning("batch of %d messages failed (%r); handling them one at a time", len(parsed), error)
            for raw, _ in parsed:
                await self.handle(raw)
            return
        for raw, _ in parsed:
            await raw.ack()  # a publish, not awaited by the server: acks go out back to back
        seconds = time.perf_counter() - started
        MESSAGE_BATCHES.labels(self.name).inc()
        for _, message in parsed:
            fresh = message.message_id in applied
            applied.discard(message.message_id)  # a second copy in the same batch is a duplicate
            MESSAGES_HANDLED.labels(self.name, "applied" if fresh else "duplicate").inc()
            MESSAGE_HANDLING_SECONDS.labels(self.name).observe(seconds)

    async def _apply_batch(self, parsed: list[tuple[Msg, Message]]) -> set[UUID]:
        """The ids of the messages applied (the others were handled before)."""
        subjects_of = {
            message.message_id: self._namespace.logical_subject(raw.subject) for raw, message in parsed
        }
        assert self._subscription.batch_handler is not None
        async with self._database.transaction() as session:
            fresh = await first_deliveries(session, self.name, subjects_of)
            received = [
                Delivered(message, subjects_of[message.message_id], raw.metadata.num_delivered)
                for raw, message in parsed
            ]
            batch = to_apply(received, fresh)
            if batch:
                handling = BatchHandling(session, self._clock, self._dependencies)
                await self._subscription.batch_handler(batch, handling)
        return fresh

    async def _dead_letter(
        self, raw: Msg, error: Exception, *, correlation_id: str | None, causation_id: UUID | None
    ) -> str:
        metadata = raw.metadata
        try:
            payload, encoding = raw.data.decode(), "utf-8"
        except UnicodeDecodeError:
            payload, encoding = base64.b64encode(raw.data).decode(), "base64"
        stream_sequence = metadata.sequence.stream
        dead = MessageDeadLettered(
            occurred_at=self._clock.now(),
            correlation_id=correlation_id or f"{self.name}:{stream_sequence}",
            causation_id=causation_id,
            consumer=self.name,
            original_subject=self._namespace.logical_subject(raw.subject),
            stream=metadata.stream,
            stream_sequence=stream_sequence,
            deliveries=metadata.num_delivered,
            error_type=type(error).__name__,
            error_message=str(error)[:2000],
            original_payload=payload,
            payload_encoding=encoding,  # type: ignore[arg-type]
            original_headers=dict(raw.headers or {}),
        )
        headers = message_headers(dead)
        # One dead letter per original message, however often this runs.
        headers["Nats-Msg-Id"] = f"dead:{self._namespace.durable(self.name)}:{stream_sequence}"
        try:
            await self._js.publish(
                self._namespace.subject(subjects.dead_letter(self._service, self.name)),
                dead.model_dump_json().encode(),
                headers=headers,
            )
        except Exception as publish_error:
            log.error("could not dead-letter message, will retry: %r", publish_error)
            await raw.nak(delay=self._policy.delay_after(metadata.num_delivered))
            return "retried"
        await raw.term()
        return "dead_lettered"


def to_apply(received: list[Delivered[Any]], fresh: set[UUID]) -> list[Delivered[Any]]:
    """Of a batch as received, what to apply, in the same order: each message the inbox has not
    seen before (``fresh``), once (a second copy in the same batch is a duplicate too)."""
    taken: set[UUID] = set()
    applied: list[Delivered[Any]] = []
    for delivered in received:
        message_id = delivered.message.message_id
        if message_id in fresh and message_id not in taken:
            taken.add(message_id)
            applied.append(delivered)
    return applied


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _handler_types(handler: Handler) -> tuple[type[Message], type | None]:
    """The message model a handler takes, and the dependencies type its ``Handling[...]`` names."""
    parameters = list(inspect.signature(handler).parameters)
    hints = typing.get_type_hints(handler)
    model = hints.get(parameters[0]) if parameters else None
    if not (isinstance(model, type) and issubclass(model, Message)):
        raise TypeError(f"{handler.__qualname__}: first parameter must be annotated with a Message model")
    handling = hints.get(parameters[1]) if len(parameters) > 1 else None
    if typing.get_origin(handling) is not Handling:
        return model, None
    (declared,) = typing.get_args(handling)
    if declared is None:
        return model, type(None)
    if not isinstance(declared, type):
        raise TypeError(f"{handler.__qualname__}: Handling[...] must name a class (or None)")
    return model, declared


async def run_consumers(consumers: list[Consumer]) -> None:
    async with asyncio.TaskGroup() as group:
        for consumer in consumers:
            group.create_task(consumer.run(), name=f"consumer-{consumer.name}")
