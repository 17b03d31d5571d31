"""The conformance server: a scripted relay and far side on one websocket port.

Theory of operation
-------------------
:class:`ConformanceServer` listens on 127.0.0.1 with two paths. ``/control`` takes the one
*testee driver* (the client under test's small adapter, see docs/conformance.md): it says
``hello`` with its name and capabilities, then receives ``command`` messages (register, call,
accept...), answers each with a ``result``, and reports the client's application ``event`` s.
``/relay`` is where the client under test connects as it would to a relay; the server answers
its ``register`` with ``registered`` and its ``ping`` with ``pong`` (unless a case turns that
off) and hands every other frame to the running case, which plays the far side with
:class:`Case` helpers (``send``, ``expect``, ``event``, ``check``...). Every frame, command,
result and event is kept as an observation of the case. A case is an ``async def`` that raises
:class:`CaseFailed` (or fails a ``check``) to fail; ``advise`` marks it non-strict. Each case
has a time bound; its relay connections are closed and the testee is told to ``reset`` after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import attrs
from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed

from rtcstate import wire

__all__ = [
    "CONTROL_PATH",
    "RELAY_PATH",
    "Case",
    "CaseFailed",
    "CaseResult",
    "ConformanceServer",
    "Observation",
    "Verdict",
]

CONTROL_PATH = "/control"
RELAY_PATH = "/relay"
#: seconds: the default bound of one wait inside a case
WAIT = 5.0

T = TypeVar("T")


class Verdict:
    """A case's verdict (the strings of the reports)."""

    PASS = "pass"
    NON_STRICT = "non-strict"
    FAIL = "fail"
    UNSUPPORTED = "unsupported"


class CaseFailed(Exception):
    """A case's expectation failed (the message says which)."""


@attrs.define
class Observation:
    """One thing seen during a case: ``t`` seconds after its start."""

    t: float
    channel: str  # "client>", "<server" (relay frames), "command", "result", "event", "note"
    text: str

    def as_json(self) -> dict[str, Any]:
        return {"t": round(self.t, 4), "channel": self.channel, "text": self.text}


@attrs.define
class CaseResult:
    """What a case came to."""

    id: str
    title: str
    expectation: str
    verdict: str
    reasons: list[str]
    duration: float
    observations: list[Observation]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "expectation": self.expectation,
            "verdict": self.verdict,
            "reasons": self.reasons,
            "duration": round(self.duration, 4),
            "observations": [o.as_json() for o in self.observations],
        }


def _short(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class _Log:
    """An append-only list of items that waiters search (each item taken at most once)."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.taken: set[int] = set()
        self.changed = asyncio.Event()

    def add(self, item: Any) -> None:
        self.items.append(item)
        self.changed.set()

    async def take(self, match: Callable[[Any], bool], timeout: float) -> Any | None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for i, item in enumerate(self.items):
                if i not in self.taken and match(item):
                    self.taken.add(i)
                    return item
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return None
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)


class RelayLink:
    """One connection of the client under test on ``/relay``."""

    def __init__(self, case: Case, ws: ServerConnection, number: int) -> None:
        self.case = case
        self.ws = ws
        self.number = number
        self.address: str | None = None  # user/device once registered
        self.registers: list[wire.Register] = []
        self.closed = asyncio.Event()

    async def send_text(self, text: str | bytes) -> None:
        shown = text if isinstance(text, str) else f"<{len(text)} bytes> {text[:200]!r}"
        self.case.observe("<server", _short(str(shown)))
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(text)

    async def close(self, code: int = 1001, reason: str = "") -> None:
        self.case.observe("note", f"server closes relay connection {self.number} ({code})")
        with contextlib.suppress(ConnectionClosed):
            await self.ws.close(code, reason)


class Case:
    """The running case's view of the world: the far side's and the relay's helpers."""

    def __init__(self, server: ConformanceServer, case_id: str) -> None:
        self.server = server
        self.id = case_id
        self.start = time.monotonic()
        self.observations: list[Observation] = []
        self.reasons: list[str] = []
        self.non_strict: list[str] = []
        self.frames = _Log()  # (link, Envelope) from the client under test
        self.rejected = _Log()  # (link, DecodeError text) frames that did not decode
        self.events = _Log()  # dicts {target, event, payload} reported by the testee
        self.links: list[RelayLink] = []
        self.new_links = _Log()
        self.auto_register = True
        self.auto_pong = True
        self.session_ids = (f"s{case_id.replace('.', '_')}-{n}" for n in itertools.count(1))
        prefix = "c" + case_id.replace(".", "_")
        #: the client under test's user and device, and the scripted far side's user
        self.user = f"{prefix}-me"
        self.device = "d1"
        self.peer = f"{prefix}-peer"

    # --- observations and verdicts ------------------------------------------------------------

    def observe(self, channel: str, text: str) -> None:
        self.observations.append(Observation(time.monotonic() - self.start, channel, text))

    def note(self, text: str) -> None:
        self.observe("note", text)

    def check(self, condition: object, what: str) -> None:
        """Fail the case unless ``condition`` holds (``what`` says what was expected)."""
        if not condition:
            raise CaseFailed(what)

    def advise(self, condition: object, what: str) -> None:
        """Mark the case non-strict unless ``condition`` holds (the case goes on)."""
        if not condition:
            self.non_strict.append(what)
            self.note(f"non-strict: {what}")

    # --- the testee ---------------------------------------------------------------------------

    def capable(self, *names: str) -> bool:
        return set(names) <= self.server.capabilities

    async def command(self, name: str, /, timeout: float = 10.0, **args: Any) -> dict[str, Any]:
        """Have the testee do ``name`` (see docs/conformance.md); its result, or CaseFailed."""
        ok, result = await self.try_command(name, timeout=timeout, **args)
        if not ok:
            raise CaseFailed(f"the testee could not {name}: {result.get('error')}")
        return result

    async def try_command(
        self, name: str, /, timeout: float = 10.0, **args: Any
    ) -> tuple[bool, dict[str, Any]]:
        """As :meth:`command`, but a refused command is returned (``ok`` False), not raised."""
        return await self.server._command(self, name, args, timeout)

    async def event(
        self, name: str, fields: dict[str, Any] | None = None, timeout: float = WAIT
    ) -> dict[str, Any]:
        """The next testee event called ``name`` whose payload holds ``fields``."""

        def match(item: dict[str, Any]) -> bool:
            payload = item.get("payload")
            return item.get("event") == name and (
                not fields
                or (
                    isinstance(payload, dict)
                    and all(payload.get(k) == v for k, v in fields.items())
                )
            )

        found = await self.events.take(match, timeout)
        if found is None:
            raise CaseFailed(f"no {name} event {fields or ''} within {timeout:g} s")
        assert isinstance(found, dict)
        return found

    async def maybe_event(self, name: str, timeout: float = WAIT) -> dict[str, Any] | None:
        found = await self.events.take(lambda e: e.get("event") == name, timeout)
        return found if isinstance(found, dict) else None

    async def register(self, **args: Any) -> RelayLink:
        """Have the testee register (on this case's fresh user) and return its relay link."""
        await self.command(
            "register", url=self.server.relay_url, user=self.user, device=self.device, **args
        )
        link = await self.link()
        return link

    # --- the relay side -----------------------------------------------------------------------

    async def link(self, timeout: float = WAIT) -> RelayLink:
        """The next relay connection of the client under test (registered if auto)."""

        def ready(link: RelayLink) -> bool:
            return not self.auto_register or link.address is not None

        found = await self.new_links.take(ready, timeout)
        if found is None:
            raise CaseFailed(f"the client did not connect (and register) within {timeout:g} s")
        assert isinstance(found, RelayLink)
        return found

    async def expect(
        self,
        kinds: type[wire.Message] | tuple[type[wire.Message], ...],
        timeout: float = WAIT,
        where: Callable[[wire.Envelope], object] | None = None,
        what: str | None = None,
    ) -> wire.Envelope:
        """The next frame from the client of one of ``kinds`` (and ``where``), or CaseFailed."""
        env = await self.maybe(kinds, timeout, where)
        if env is None:
            names = kinds.TYPE if isinstance(kinds, type) else "/".join(k.TYPE for k in kinds)
            raise CaseFailed(what or f"no {names} from the client within {timeout:g} s")
        return env

    async def maybe(
        self,
        kinds: type[wire.Message] | tuple[type[wire.Message], ...],
        timeout: float = WAIT,
        where: Callable[[wire.Envelope], object] | None = None,
    ) -> wire.Envelope | None:
        """As :meth:`expect`, None on timeout."""

        def match(item: tuple[RelayLink, wire.Envelope]) -> bool:
            env = item[1]
            return isinstance(env.message, kinds) and (where is None or bool(where(env)))

        found = await self.frames.take(match, timeout)
        return None if found is None else found[1]

    def seen(self, kind: type[wire.Message]) -> list[wire.Envelope]:
        """Every frame of ``kind`` the client sent so far in this case (taken or not)."""
        return [env for _, env in self.frames.items if isinstance(env.message, kind)]

    async def settle(self, seconds: float) -> None:
        """Let ``seconds`` pass (to see what the client does, or does not)."""
        await asyncio.sleep(seconds)

    async def send(
        self,
        link: RelayLink,
        message: wire.Message,
        *,
        sender: str | None = None,
        to: str | None = None,
    ) -> None:
        """Deliver ``message`` to the client as the relay would (``from`` = ``sender``)."""
        env = wire.Envelope(message, to=to or link.address, sender=sender)
        await link.send_text(wire.encode_envelope(env).decode())

    async def ping_alive(self, link: RelayLink, seq: int, timeout: float = WAIT) -> bool:
        """Whether the client still answers a ping on ``link``."""
        await self.send(link, wire.Ping(seq))
        return (
            await self.maybe(wire.Pong, timeout, lambda e: e.message == wire.Pong(seq))
        ) is not None


@attrs.define
class CaseSpec:
    """A numbered case: ``run(case)`` plays it."""

    id: str
    title: str
    expectation: str
    run: Callable[[Case], Awaitable[None]]
    requires: tuple[str, ...] = ()
    timeout: float = 20.0


class ConformanceServer:
    """Runs cases against one testee (see the module docstring)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.server: Server | None = None
        self.testee: ServerConnection | None = None
        self.testee_ready = asyncio.Event()
        self.testee_gone = asyncio.Event()
        self.name = "?"
        self.capabilities: set[str] = set()
        self.case: Case | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[tuple[bool, dict[str, Any]]]] = {}

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def relay_url(self) -> str:
        return self.url + RELAY_PATH

    @property
    def control_url(self) -> str:
        return self.url + CONTROL_PATH

    async def start(self) -> None:
        self.server = await ws_serve(
            self._handle, self.host, self.port, max_size=4 << 20, ping_interval=None
        )
        sock = next(iter(self.server.sockets))
        self.port = sock.getsockname()[1]

    async def close(self) -> None:
        if self.testee is not None:
            with contextlib.suppress(Exception):
                await self.testee.send(json.dumps({"type": "done"}))
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def wait_testee(self, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            await self.testee_ready.wait()

    # --- connections --------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else ""
        if path == CONTROL_PATH:
            await self._control(ws)
        elif path == RELAY_PATH:
            await self._relay(ws)
        else:
            await ws.close(1008, f"unknown path {path}")

    async def _control(self, ws: ServerConnection) -> None:
        if self.testee is not None:
            await ws.close(1008, "one testee at a time")
            return
        self.testee = ws
        try:
            async for raw in ws:
                self._from_testee(raw)
        except ConnectionClosed:
            pass
        finally:
            self.testee = None
            self.testee_gone.set()
            for future in self._pending.values():
                if not future.done():
                    future.set_result((False, {"error": "the testee disconnected"}))

    def _from_testee(self, raw: str | bytes) -> None:
        try:
            msg = json.loads(raw)
        except ValueError:
            msg = None
        if not isinstance(msg, dict):
            if self.case is not None:
                self.case.note(f"unreadable control message {_short(str(raw), 200)}")
            return
        kind = msg.get("type")
        if kind == "hello":
            self.name = str(msg.get("name", "?"))
            caps = msg.get("capabilities", [])
            self.capabilities = {str(c) for c in caps} if isinstance(caps, list) else set()
            self.testee_ready.set()
        elif kind == "result":
            future = self._pending.pop(msg.get("id", -1), None)
            if future is not None and not future.done():
                ok = msg.get("ok") is True
                result = msg.get("result") if ok else {"error": msg.get("error")}
                future.set_result((ok, result if isinstance(result, dict) else {}))
            if self.case is not None:
                self.case.observe("result", _short(json.dumps(msg)))
        elif kind == "event" and self.case is not None:
            self.case.observe("event", _short(json.dumps(msg)))
            self.case.events.add(msg)

    async def _command(
        self, case: Case, name: str, args: dict[str, Any], timeout: float
    ) -> tuple[bool, dict[str, Any]]:
        if self.testee is None:
            raise CaseFailed("the testee is not connected")
        ident = next(self._ids)
        future: asyncio.Future[tuple[bool, dict[str, Any]]] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending[ident] = future
        text = json.dumps({"type": "command", "id": ident, "command": name, "args": args})
        case.observe("command", _short(text))
        await self.testee.send(text)
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise CaseFailed(f"no result for command {name} within {timeout:g} s") from None
        finally:
            self._pending.pop(ident, None)

    async def _relay(self, ws: ServerConnection) -> None:
        case = self.case
        if case is None:
            await ws.close(1013, "no case is running")
            return
        link = RelayLink(case, ws, len(case.links) + 1)
        case.links.append(link)
        case.note(f"relay connection {link.number} opened")
        if not case.auto_register:
            case.new_links.add(link)
        try:
            async for raw in ws:
                await self._relay_frame(case, link, raw)
        except ConnectionClosed:
            pass
        finally:
            link.closed.set()
            case.note(f"relay connection {link.number} closed")

    async def _relay_frame(self, case: Case, link: RelayLink, raw: str | bytes) -> None:
        case.observe("client>", _short(raw if isinstance(raw, str) else repr(raw)))
        try:
            env = wire.decode(raw)
        except wire.DecodeError as exc:
            case.rejected.add((link, f"{exc.reason}: {exc.detail}"))
            case.note(f"the client's frame does not decode: {exc.reason} ({exc.detail})")
            return
        message = env.message
        case.frames.add((link, env))
        if isinstance(message, wire.Register):
            link.registers.append(message)
            if case.auto_register:
                link.address = f"{message.user}/{message.device}"
                reply = wire.Registered(message.user, message.device, next(case.session_ids))
                await case.send(link, reply)
                case.new_links.add(link)
        elif isinstance(message, wire.Ping) and case.auto_pong:
            await case.send(link, wire.Pong(message.seq))

    # --- running ------------------------------------------------------------------------------

    async def run_case(self, spec: CaseSpec) -> CaseResult:
        case = Case(self, spec.id)
        self.case = case
        verdict = Verdict.PASS
        missing = [c for c in spec.requires if c not in self.capabilities]
        if missing:
            case.note(f"the testee lacks {', '.join(missing)}")
            verdict = Verdict.UNSUPPORTED
            case.reasons.append(f"needs the capability {', '.join(missing)}")
        else:
            try:
                async with asyncio.timeout(spec.timeout):
                    await spec.run(case)
            except CaseFailed as exc:
                verdict = Verdict.FAIL
                case.reasons.append(str(exc))
            except TimeoutError:
                verdict = Verdict.FAIL
                case.reasons.append(f"the case did not finish within {spec.timeout:g} s")
            except Exception as exc:  # a broken frame from the client is the client's failure
                verdict = Verdict.FAIL
                case.reasons.append(f"{type(exc).__name__}: {exc}")
            if verdict == Verdict.PASS and case.non_strict:
                verdict = Verdict.NON_STRICT
                case.reasons.extend(case.non_strict)
            await self._reset(case)
        self.case = None
        return CaseResult(
            spec.id,
            spec.title,
            spec.expectation,
            verdict,
            case.reasons,
            time.monotonic() - case.start,
            case.observations,
        )

    async def _reset(self, case: Case) -> None:
        """After a case: the testee forgets everything, its relay connections close."""
        with contextlib.suppress(CaseFailed):
            await case.try_command("reset", timeout=10.0)
        for link in case.links:
            await link.close(1001, "case over")
        for link in case.links:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(link.closed.wait(), 2.0)

    async def run(
        self, specs: Sequence[CaseSpec], on_result: Callable[[CaseResult], None] | None = None
    ) -> list[CaseResult]:
        results = []
        for spec in specs:
            result = await self.run_case(spec)
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results


def select(specs: Iterable[CaseSpec], patterns: Sequence[str]) -> list[CaseSpec]:
    """The cases whose id matches one of ``patterns`` (``2.1``, ``2.*``, ``*``), in order."""
    if not patterns:
        return list(specs)

    def wanted(case_id: str) -> bool:
        for pattern in patterns:
            if pattern in ("*", case_id) or (
                pattern.endswith("*") and case_id.startswith(pattern[:-1])
            ):
                return True
        return False

    return [s for s in specs if wanted(s.id)]
