"""The rtcstate signaling wire format: one strict JSON object per message.

Format
------
A message on the wire is a single JSON object, UTF-8 encoded, no byte-order mark::

    {"v": 1, "type": "<type>", "to": "<address>", "from": "<address>", ...body fields}

``v`` is :data:`PROTOCOL_VERSION`; ``type`` selects the message class in :data:`MESSAGE_TYPES`;
``to`` and ``from`` are optional, opaque address strings (the relay stamps ``from`` from the
authenticated connection: a client never decides who it is).  Body field names on the wire are
exactly the Python attribute names.  Canonical encoding: compact, keys in the order v, type, to,
from, then fields in declaration order; a ``None`` value is omitted.  On input an optional field
(``X | None``) may be absent or ``null``, a field with another default may be absent.  So
``decode(encode(m)) == m`` for every valid message.  docs/wire.md lists every message type.

Strictness
----------
:func:`decode` takes bytes or str and returns an :class:`Envelope` or raises :class:`DecodeError`
-- nothing else, whatever the input.  Its ``reason`` (:class:`DecodeReason`) is that of the first
failed check, in this order:

1. the input is bytes/bytearray/memoryview or str (else WRONG_TYPE);
2. size against ``max_size``: bytes by length, a str by its UTF-8 length (OVERSIZE);
3. encoding: strict UTF-8, no lone surrogate in a str, no byte-order mark (INVALID_ENCODING);
4. JSON (MALFORMED_JSON), defined as what orjson accepts, plus a nesting limit judged on the text
   before any parsing (:data:`MAX_DEPTH`, counting values a duplicate key overrides): no
   NaN/Infinity, no number that overflows a double, no escaped lone surrogate; the last of
   duplicate keys wins; an integer outside [-2**63, 2**64-1] is read as a float;
5. the top level is an object (NOT_AN_OBJECT);
6. ``v``: present (MISSING_FIELD), an int -- not a bool -- (WRONG_TYPE), equal to 1
   (UNKNOWN_VERSION); then ``type``: present, a str, registered (UNKNOWN_TYPE);
7. ``to`` and ``from``: str or null (WRONG_TYPE);
8. body fields in declaration order: present unless defaulted (MISSING_FIELD), of the declared
   kind (WRONG_TYPE: a bool is never an int or a float; an int is accepted and converted for a
   float field), in range (INVALID_VALUE: an enumerated value outside its set, an int beyond
   +/-(2**53-1), the integers a JavaScript peer represents exactly);
9. no key beyond those declared (UNEXPECTED_FIELD).

JSON backends
-------------
orjson is an optional accelerator: used when importable, else the standard library's C scanner,
called directly (``JSONDecoder.scan_once``: no encoding sniffing, no whitespace regexes) with
hooks that make it reject exactly what orjson rejects.  Both backends give the same decision,
reason and decoded value for every input (the fuzz tests check it); :func:`use_json_backend`
selects one.  Measured (docs/wire.md): a full orjson-backed decode of a 312-byte Candidate costs
about what bare ``json.loads`` of the same bytes does, the stdlib-backed one about 1.4x.

Adding a message type is declaring it::

    @register
    @attrs.frozen(slots=True)
    class Hello(Message):
        TYPE: ClassVar[str] = "hello"
        ROUTE: ClassVar[str | None] = None
        text: str

:func:`register` compiles, once, the class's validator: a tuple of ``(name, exact type, checker,
default)`` entries walked by :func:`decode` (an exact type match skips the checker call); no attrs
validator or converter ever runs while decoding.
"""

from __future__ import annotations

import enum
import json
import math
import operator
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final, NoReturn, TypeVar

import attrs

from rtcstate.codes import CallType  # the apiRTC callType catalogue; re-exported here

__all__ = [
    "DEFAULT_MAX_SIZE",
    "MAX_DEPTH",
    "MAX_SAFE_INT",
    "MESSAGE_TYPES",
    "PROTOCOL_VERSION",
    "Ack",
    "Answer",
    "AnswerChoice",
    "Bye",
    "CallType",
    "Candidate",
    "ContactData",
    "ContactMessage",
    "DataChannelAck",
    "DataChannelInvite",
    "DecodeError",
    "DecodeReason",
    "EncodeError",
    "Envelope",
    "FieldInfo",
    "FieldKind",
    "FileCancel",
    "FileOffer",
    "Invite",
    "InviteAnswer",
    "MediaState",
    "Message",
    "Ping",
    "Pong",
    "Presence",
    "Register",
    "Registered",
    "ServerError",
    "StreamState",
    "Unregister",
    "Update",
    "UpdateOk",
    "UserNotFound",
    "available_json_backends",
    "decode",
    "decode_keys",
    "encode",
    "encode_envelope",
    "fields_of",
    "json_backend",
    "register",
    "use_json_backend",
]

PROTOCOL_VERSION: Final = 1
DEFAULT_MAX_SIZE: Final = 65536
#: Maximum nesting of arrays/objects in a document; the top-level object is depth 1.
MAX_DEPTH: Final = 32
#: Largest magnitude accepted in an ``int`` field (JavaScript's Number.MAX_SAFE_INTEGER).
MAX_SAFE_INT: Final = 2**53 - 1

_I64_MIN: Final = -(2**63)
_U64_MAX: Final = 2**64 - 1
_ENVELOPE_KEYS: Final = frozenset({"v", "type", "to", "from"})


# --------------------------------------------------------------------------------------------
# Errors


class DecodeReason(enum.StrEnum):
    """Why :func:`decode` rejected an input."""

    OVERSIZE = "oversize"
    INVALID_ENCODING = "invalid_encoding"
    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_VERSION = "unknown_version"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_FIELD = "missing_field"
    UNEXPECTED_FIELD = "unexpected_field"
    WRONG_TYPE = "wrong_type"
    INVALID_VALUE = "invalid_value"


class DecodeError(Exception):
    """The only exception :func:`decode` raises."""

    reason: DecodeReason
    detail: str

    def __init__(self, reason: DecodeReason, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


class EncodeError(ValueError):
    """A message holds a value the wire cannot carry (NaN, a non-JSON payload, a lone surrogate)."""


# --------------------------------------------------------------------------------------------
# Enumerations carried on the wire


class AnswerChoice(enum.StrEnum):
    """The answer to an invitation."""

    ACCEPT = "accept"
    DECLINE = "decline"


# --------------------------------------------------------------------------------------------
# Messages and envelope


class Message:
    """Base class of every wire message (frozen attrs classes registered with :func:`register`)."""

    __slots__ = ()

    #: The wire ``type`` string.
    TYPE: ClassVar[str]
    #: Name of the body field whose value routes the message to a child machine, or None.
    ROUTE: ClassVar[str | None] = None

    @property
    def route_id(self) -> str | None:
        """The value of the :attr:`ROUTE` field, or None for session-level messages."""
        route = self.ROUTE
        if route is None:
            return None
        value: str = getattr(self, route)
        return value


@attrs.frozen
class Envelope:
    """A message plus its addressing (``sender`` is the wire's ``from``)."""

    message: Message
    to: str | None = None
    sender: str | None = None

    def with_sender(self, sender: str | None) -> Envelope:
        """Return a copy stamped with ``sender`` (what the relay does on receipt)."""
        return Envelope(self.message, self.to, sender)


_set_env_message: Final[Callable[[Envelope, Message], None]] = Envelope.__dict__["message"].__set__
_set_env_to: Final[Callable[[Envelope, str | None], None]] = Envelope.__dict__["to"].__set__
_set_env_sender: Final[Callable[[Envelope, str | None], None]] = Envelope.__dict__["sender"].__set__


class FieldKind(enum.Enum):
    """The supported body field kinds."""

    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    STR_LIST = "list[str]"
    PAYLOAD = "dict[str, Any]"
    ENUM = "enum"


@attrs.frozen
class FieldInfo:
    """Public description of one body field (used by the Hypothesis strategies and the docs)."""

    name: str
    kind: FieldKind
    optional: bool
    has_default: bool
    default: Any
    enum_type: type[enum.StrEnum] | None


_MISSING: Final[Any] = object()  # sentinel: key absent
_new_object: Final = object.__new__
_REQUIRED: Final[Any] = object()  # sentinel: field has no default

#: A checker takes ``(field name, decoded JSON value)`` and returns the attribute value or raises.
_Checker = Callable[[str, Any], Any]
#: One precompiled field entry: (name, fast exact type or None, checker, default or _REQUIRED).
_FieldEntry = tuple[str, type | None, _Checker, Any]


@attrs.frozen
class _Spec:
    cls: type[Message]
    entries: tuple[_FieldEntry, ...]
    infos: tuple[FieldInfo, ...]
    names: tuple[str, ...]
    getter: Callable[[Any], tuple[Any, ...]]
    allowed: frozenset[str]
    #: (position, info) of the fields encode() must check: floats (finite) and payloads.
    encode_checks: tuple[tuple[int, FieldInfo], ...]
    #: ``build(obj, obj.get)``: checks 7-9 of :func:`decode` (``v`` and ``type`` are checked
    #: already), the :class:`Envelope` built (see :func:`_compile`).
    build: Callable[[dict[str, Any], Callable[..., Any]], Envelope]


_REGISTRY: dict[str, type[Message]] = {}
_SPECS: dict[str, _Spec] = {}
_SPECS_BY_CLASS: dict[type[Message], _Spec] = {}

#: Read-only view of the registry: wire ``type`` -> message class.
MESSAGE_TYPES: Mapping[str, type[Message]] = types.MappingProxyType(_REGISTRY)


def _fail(reason: DecodeReason, detail: str) -> NoReturn:
    raise DecodeError(reason, detail)


def _jtype(value: object) -> str:
    """JSON-ish name of a decoded value's type, for error details."""
    if value is None:
        return "null"
    t = type(value)
    if t is bool:
        return "boolean"
    if t is int or t is float:
        return "number"
    if t is str:
        return "string"
    if t is list:
        return "array"
    if t is dict:
        return "object"
    return t.__name__


def _wrong(name: str, expected: str, value: object) -> NoReturn:
    raise DecodeError(
        DecodeReason.WRONG_TYPE, f"field {name!r}: expected {expected}, got {_jtype(value)}"
    )


# ---- checkers (slow path; the fast path is an exact type match in the decode loop) ----------


def _check_str(name: str, value: Any) -> Any:
    if type(value) is not str:
        _wrong(name, "string", value)
    return value


def _check_bool(name: str, value: Any) -> Any:
    if type(value) is not bool:
        _wrong(name, "boolean", value)
    return value


def _check_int(name: str, value: Any) -> Any:
    if type(value) is not int:
        _wrong(name, "integer", value)
    if -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
        return value
    if _I64_MIN <= value <= _U64_MAX:
        _fail(DecodeReason.INVALID_VALUE, f"field {name!r}: integer outside +/-(2**53-1)")
    # Beyond 64 bits orjson reads the literal as a float (or rejects it if it overflows a
    # double); only the stdlib backend gets here, and answers the same.
    try:
        float(value)
    except OverflowError:
        _fail(DecodeReason.MALFORMED_JSON, f"field {name!r}: number overflows a double")
    _fail(DecodeReason.WRONG_TYPE, f"field {name!r}: expected integer, got a 64-bit overflow")


def _check_float(name: str, value: Any) -> Any:
    t = type(value)
    if t is float:  # always finite: both backends reject NaN/Infinity and overflowing literals
        return value
    if t is int:
        try:
            return float(value)
        except OverflowError:
            _fail(DecodeReason.MALFORMED_JSON, f"field {name!r}: number overflows a double")
    _wrong(name, "number", value)


def _check_str_list(name: str, value: Any) -> Any:
    if type(value) is not list:
        _wrong(name, "array of strings", value)
    for item in value:
        if type(item) is not str:
            _wrong(name, "array of strings, item", item)
    return value


def _check_payload(name: str, value: Any) -> Any:
    if type(value) is not dict:
        _wrong(name, "object", value)
    if _stdlib_active:
        problem = _normalize_json(value)
        if problem is not None:
            _fail(DecodeReason.MALFORMED_JSON, f"field {name!r}: {problem}")
    return value


def _make_enum_checker(enum_type: type[enum.StrEnum]) -> _Checker:
    members: dict[str, enum.StrEnum] = {m.value: m for m in enum_type}
    allowed = ", ".join(members)

    def check(name: str, value: Any) -> Any:
        if type(value) is not str:
            _wrong(name, "string", value)
        member = members.get(value)
        if member is None:
            _fail(DecodeReason.INVALID_VALUE, f"field {name!r}: {value!r} is not one of {allowed}")
        return member

    return check


def _make_optional(check: _Checker) -> _Checker:
    def optional(name: str, value: Any) -> Any:
        if value is None:
            return None
        return check(name, value)

    return optional


def _normalize_json(root: Any) -> str | None:
    """Make a stdlib-parsed value what orjson would have produced, or say why orjson rejects it.

    Integers beyond the 64-bit range become doubles (in place); a lone surrogate or an integer
    that overflows a double is a problem.  orjson output never needs this walk; depth and
    non-finite numbers are handled before (text nesting check, ``parse_float`` hook).
    """
    stack: list[Any] = [[root]]
    pop = stack.pop
    push = stack.append
    while stack:
        container = pop()
        if type(container) is dict:
            for key in container:
                if not key.isascii() and not _encodable(key):
                    return "lone surrogate in string"
            items: Any = container.items()
        else:
            items = enumerate(container)
        for key, item in items:
            t = type(item)
            if t is str:
                if not item.isascii() and not _encodable(item):
                    return "lone surrogate in string"
            elif t is dict or t is list:
                push(item)
            elif t is int and not (_I64_MIN <= item <= _U64_MAX):
                try:
                    container[key] = float(item)
                except OverflowError:
                    return "number overflows a double"
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# ---- registration ---------------------------------------------------------------------------

_SIMPLE_KINDS: Final[dict[object, tuple[FieldKind, type | None, _Checker]]] = {
    str: (FieldKind.STR, str, _check_str),
    int: (FieldKind.INT, None, _check_int),
    float: (FieldKind.FLOAT, None, _check_float),
    bool: (FieldKind.BOOL, bool, _check_bool),
}


def _classify(annotation: Any, where: str) -> tuple[FieldKind, type | None, _Checker, Any]:
    """Map a (non-optional) annotation to (kind, fast exact type, checker, enum type)."""
    simple = _SIMPLE_KINDS.get(annotation)
    if simple is not None:
        return (*simple, None)
    if isinstance(annotation, type) and issubclass(annotation, enum.StrEnum):
        return FieldKind.ENUM, None, _make_enum_checker(annotation), annotation
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and args == (str,):
        return FieldKind.STR_LIST, None, _check_str_list, None
    if origin is dict and args == (str, Any):
        return FieldKind.PAYLOAD, None, _check_payload, None
    raise TypeError(f"{where}: unsupported wire field type {annotation!r}")


M = TypeVar("M", bound=type[Message])


def register(cls: M) -> M:
    """Register a frozen, slotted attrs :class:`Message` subclass and compile its validator.

    Checked here, at import time: a unique non-empty ``TYPE``; field names that are not ``v``,
    ``type``, ``to`` or ``from``; supported annotations (``str``, ``int``, ``float``, ``bool``,
    a ``StrEnum``, ``list[str]``, ``dict[str, Any]``, each optionally ``| None``); a default of
    None only on optional fields; ``ROUTE`` naming a mandatory ``str`` field.
    """
    is_attrs_class = attrs.has(cls)  # (kept apart: it would narrow cls for mypy)
    if not (isinstance(cls, type) and issubclass(cls, Message) and is_attrs_class):
        raise TypeError(f"{cls!r} must be an attrs subclass of Message")
    if "__slots__" not in cls.__dict__ or "__setattr__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} must be declared with @attrs.frozen(slots=True)")
    wire_type = cls.__dict__.get("TYPE")
    if not isinstance(wire_type, str) or not wire_type:
        raise TypeError(f"{cls.__name__} must define TYPE")
    if wire_type in _REGISTRY:
        raise ValueError(f"duplicate wire type {wire_type!r}")
    hints = typing.get_type_hints(cls)
    entries: list[_FieldEntry] = []
    infos: list[FieldInfo] = []
    seen_default = False
    for field in attrs.fields(typing.cast(Any, cls)):
        name = field.name
        where = f"{cls.__name__}.{name}"
        if name in _ENVELOPE_KEYS or name.startswith("_") or not field.init:
            raise TypeError(f"{where}: field name not allowed on the wire")
        annotation = hints[name]
        optional = False
        if typing.get_origin(annotation) in (types.UnionType, typing.Union):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1 or len(typing.get_args(annotation)) != 2:
                raise TypeError(f"{where}: only `X | None` unions are supported")
            annotation = args[0]
            optional = True
        kind, exact, check, enum_type = _classify(annotation, where)
        if optional:
            check = _make_optional(check)
        has_default = field.default is not attrs.NOTHING
        if isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            raise TypeError(f"{where}: factory defaults are not supported")
        if has_default:
            seen_default = True
            if field.default is None and not optional:
                raise TypeError(f"{where}: default None requires `X | None`")
        elif seen_default:  # attrs forbids this too; kept for clarity
            raise TypeError(f"{where}: mandatory field after a defaulted one")
        default = field.default if has_default else _REQUIRED
        entries.append((name, exact, check, default))
        infos.append(FieldInfo(name, kind, optional, has_default, field.default, enum_type))
    route = cls.ROUTE
    if route is not None and not any(
        i.name == route and i.kind is FieldKind.STR and not i.optional for i in infos
    ):
        raise TypeError(f"{cls.__name__}.ROUTE must name a mandatory str field")
    names = tuple(i.name for i in infos)
    if len(names) == 0:
        getter: Callable[[Any], tuple[Any, ...]] = lambda _m: ()  # noqa: E731
    elif len(names) == 1:
        single = operator.attrgetter(names[0])
        getter = lambda m: (single(m),)  # noqa: E731
    else:
        getter = operator.attrgetter(*names)
    spec = _Spec(
        cls=cls,
        build=_compile(cls, entries, infos),
        entries=tuple(entries),
        infos=tuple(infos),
        names=names,
        getter=getter,
        allowed=_ENVELOPE_KEYS | frozenset(names),
        encode_checks=tuple(
            (n, i) for n, i in enumerate(infos) if i.kind in (FieldKind.FLOAT, FieldKind.PAYLOAD)
        ),
    )
    _REGISTRY[wire_type] = cls
    _SPECS[wire_type] = spec
    _SPECS_BY_CLASS[cls] = spec
    return cls


def _unexpected(obj: dict[str, Any], allowed: frozenset[str]) -> NoReturn:
    unknown = sorted(k for k in obj if k not in allowed)
    _fail(DecodeReason.UNEXPECTED_FIELD, f"unexpected field(s) {', '.join(map(repr, unknown))}")


def _address(name: str, value: Any) -> Any:
    if value is not None:
        _wrong(name, "string", value)
    return None


def _compile(
    cls: type[Message], entries: list[_FieldEntry], infos: list[FieldInfo]
) -> Callable[[dict[str, Any], Callable[..., Any]], Envelope]:
    """Generate, once per class, the function that checks an object's addresses and body fields
    and builds its :class:`Envelope`.

    The same checks as the entries (:func:`_check_str` and co., in declaration order, the
    first failure reported), unrolled: a str or bool field is one exact type test, an int one
    a type test and a range comparison, the checker is called only off that fast path. The
    message is built as attrs' ``__init__`` would (``object.__new__`` and the slots' setters),
    without the call of ``__init__`` and its per-field ``object.__setattr__``; the envelope
    likewise (``Envelope.__init__`` only stores its three attributes).
    """
    env: dict[str, Any] = {
        "_M": _MISSING,
        "_new": _new_object,
        "_cls": cls,
        "_fail": _fail,
        "_MISSING_FIELD": DecodeReason.MISSING_FIELD,
        "_unexpected": _unexpected,
        "_allowed": _ENVELOPE_KEYS | frozenset(i.name for i in infos),
        "_S": MAX_SAFE_INT,
        "_address": _address,
        "_Envelope": Envelope,
        "_set_message": _set_env_message,
        "_set_to": _set_env_to,
        "_set_sender": _set_env_sender,
    }
    lines = ["def build(obj, get):", f"    expected = {len(entries) + 4}"]
    for var, key in (("to", "to"), ("sender", "from")):
        lines.append(f"    {var} = get({key!r}, _M)")
        lines.append(f"    if type({var}) is not str:")
        lines.append(f"        if {var} is _M:")
        lines.append(f"            {var} = None")
        lines.append("            expected -= 1")
        lines.append("        else:")
        lines.append(f"            {var} = _address({key!r}, {var})")
    for n, ((name, exact, check, default), info) in enumerate(zip(entries, infos, strict=True)):
        v = f"v{n}"
        env[f"_c{n}"] = check
        env[f"_d{n}"] = default
        env[f"_set{n}"] = cls.__dict__[name].__set__  # the slot's member descriptor
        lines.append(f"    {v} = get({name!r}, _M)")
        if exact is not None:
            env[f"_t{n}"] = exact
            fast = f"type({v}) is _t{n}"
        elif info.kind is FieldKind.INT:
            fast = f"type({v}) is int and -_S <= {v} <= _S"
        else:
            fast = "False"
        if info.optional:
            fast = f"{fast} or {v} is None" if fast != "False" else f"{v} is None"
        lines.append(f"    if not ({fast}):")
        lines.append(f"        if {v} is _M:")
        if default is _REQUIRED:
            lines.append(f"            _fail(_MISSING_FIELD, {f'field {name!r} is missing'!r})")
        else:
            lines.append(f"            {v} = _d{n}")
            lines.append("            expected -= 1")
        lines.append("        else:")
        lines.append(f"            {v} = _c{n}({name!r}, {v})")
    lines.append("    if len(obj) != expected:")
    lines.append("        _unexpected(obj, _allowed)")
    lines.append("    m = _new(_cls)")
    lines.extend(f"    _set{n}(m, v{n})" for n in range(len(entries)))
    lines.append("    e = _new(_Envelope)")
    lines.append("    _set_message(e, m)")
    lines.append("    _set_to(e, to)")
    lines.append("    _set_sender(e, sender)")
    lines.append("    return e")
    exec(compile("\n".join(lines), f"<wire build {cls.TYPE}>", "exec"), env)
    built: Callable[[dict[str, Any], Callable[..., Any]], Envelope] = env["build"]
    return built


def fields_of(cls: type[Message]) -> tuple[FieldInfo, ...]:
    """Describe the body fields of a registered message class, in declaration order."""
    return _SPECS_BY_CLASS[cls].infos


# ---- the foundation message set ------------------------------------------------------------
# Session / relay level.


@register
@attrs.frozen(slots=True)
class Register(Message):
    """client -> relay: open (or resume) a session for ``user`` on ``device``."""

    TYPE: ClassVar[str] = "register"
    ROUTE: ClassVar[str | None] = None
    user: str
    device: str
    token: str | None = None
    resume: bool = False


@register
@attrs.frozen(slots=True)
class Registered(Message):
    """relay -> client: the session is open."""

    TYPE: ClassVar[str] = "registered"
    ROUTE: ClassVar[str | None] = None
    user: str
    device: str
    session_id: str


@register
@attrs.frozen(slots=True)
class Unregister(Message):
    """client -> relay: close the session."""

    TYPE: ClassVar[str] = "unregister"
    ROUTE: ClassVar[str | None] = None


@register
@attrs.frozen(slots=True)
class Presence(Message):
    """relay -> client: a contact's online state and connected devices."""

    TYPE: ClassVar[str] = "presence"
    ROUTE: ClassVar[str | None] = None
    contact: str
    online: bool
    devices: list[str]


@register
@attrs.frozen(slots=True)
class Ping(Message):
    """either direction: liveness probe."""

    TYPE: ClassVar[str] = "ping"
    ROUTE: ClassVar[str | None] = None
    seq: int


@register
@attrs.frozen(slots=True)
class Pong(Message):
    """either direction: reply to :class:`Ping` with the same ``seq``."""

    TYPE: ClassVar[str] = "pong"
    ROUTE: ClassVar[str | None] = None
    seq: int


@register
@attrs.frozen(slots=True)
class ServerError(Message):
    """relay -> client: a session-level error (size or rate limit, bad message...).

    ``refused``: for a refused presence request, what was refused (``{"type": <the request's
    type>, <its name lists>...}``), so that the client stops asking for it on reconnection."""

    TYPE: ClassVar[str] = "server_error"
    ROUTE: ClassVar[str | None] = None
    code: str
    info: str
    refused: dict[str, Any] | None = None


@register
@attrs.frozen(slots=True)
class UserNotFound(Message):
    """relay -> sender: the destination of the message about ``ref_id`` is unknown or offline."""

    TYPE: ClassVar[str] = "user_not_found"
    ROUTE: ClassVar[str | None] = "ref_id"
    ref_id: str
    user: str


# Calls.


@register
@attrs.frozen(slots=True)
class Invite(Message):
    """caller -> callee: call invitation (``lifetime`` seconds counted by the receiver)."""

    TYPE: ClassVar[str] = "invite"
    ROUTE: ClassVar[str | None] = "call_id"
    call_id: str
    call_type: CallType
    sdp: str | None = None
    lifetime: float | None = None
    nickname: str | None = None
    stream_id: str | None = None
    data: dict[str, Any] | None = None


@register
@attrs.frozen(slots=True)
class Answer(Message):
    """callee -> caller: the call is accepted with this SDP answer (apiRTC's 200OK)."""

    TYPE: ClassVar[str] = "answer"
    ROUTE: ClassVar[str | None] = "call_id"
    call_id: str
    sdp: str


@register
@attrs.frozen(slots=True)
class Candidate(Message):
    """either direction: a trickled ICE candidate; an empty ``candidate`` ends the list."""

    TYPE: ClassVar[str] = "candidate"
    ROUTE: ClassVar[str | None] = "call_id"
    call_id: str
    candidate: str
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None


@register
@attrs.frozen(slots=True)
class Update(Message):
    """either direction: renegotiation offer, optionally changing the call type."""

    TYPE: ClassVar[str] = "update"
    ROUTE: ClassVar[str | None] = "call_id"
    call_id: str
    sdp: str
    call_type: CallType | None = None
    seq: int = 0


@register
@attrs.frozen(slots=True)
class UpdateOk(Message):
    """either direction: renegotiation answer (apiRTC's 200update) to update ``seq``."""

    TYPE: ClassVar[str] = "update_ok"
    ROUTE: ClassVar[str | None] = "call_id"
    call_id: str
    sdp: str
    seq: int = 0


@register
@attrs.frozen(slots=True)
class Bye(Message):
    """either direction: hang up / reject / cancel the call."""

    TYPE: ClassVar[str] = "bye"
    ROUTE: ClassVar[str | None] = "call_id"
    call_id: str
    reason: str


@register
@attrs.frozen(slots=True)
class MediaState(Message):
    """either direction: local ICE trouble, reported to the far side (DISTANT_* errors)."""

    TYPE: ClassVar[str] = "media_state"
    ROUTE: ClassVar[str | None] = "call_id"
    call_id: str
    ice_state: str


@register
@attrs.frozen(slots=True)
class Ack(Message):
    """either direction: ``what`` (``invite``, ``answer`` or ``bye``) of ``call_id`` arrived.

    Those three are retransmitted until acknowledged. ``reason`` is set only when a ``bye``
    crossed the acknowledging side's own ``bye``: it is the reason that side ended with, and
    the caller's reason wins on both sides (so both ends agree on how the call ended).
    """

    TYPE: ClassVar[str] = "ack"
    ROUTE: ClassVar[str | None] = "call_id"
    call_id: str
    what: str
    reason: str | None = None


@register
@attrs.frozen(slots=True)
class StreamState(Message):
    """either direction: the sender's published stream changed (mute, replace)."""

    TYPE: ClassVar[str] = "stream_state"
    ROUTE: ClassVar[str | None] = "call_id"
    call_id: str
    stream_id: str
    audio: bool
    audio_muted: bool
    video: bool
    video_muted: bool


# Invitations.


@register
@attrs.frozen(slots=True)
class InviteAnswer(Message):
    """invitee -> inviter: accept or decline an invitation."""

    TYPE: ClassVar[str] = "invite_answer"
    ROUTE: ClassVar[str | None] = "invitation_id"
    invitation_id: str
    answer: AnswerChoice
    reason: str | None = None


# Data channels.


@register
@attrs.frozen(slots=True)
class DataChannelInvite(Message):
    """either direction: open a data channel ``label`` inside call ``call_id``."""

    TYPE: ClassVar[str] = "data_channel_invite"
    ROUTE: ClassVar[str | None] = "channel_id"
    channel_id: str
    call_id: str
    label: str


@register
@attrs.frozen(slots=True)
class DataChannelAck(Message):
    """receiver -> initiator: the ``data_channel_invite`` of ``channel_id`` arrived.

    The invite is retransmitted until acknowledged; every copy received is acknowledged.
    """

    TYPE: ClassVar[str] = "data_channel_ack"
    ROUTE: ClassVar[str | None] = "channel_id"
    channel_id: str


# File transfers.


@register
@attrs.frozen(slots=True)
class FileOffer(Message):
    """sender -> receiver: offer a file (apiRTC's ``contact_file_info``), carried by data channel
    ``channel_id`` of data call ``call_id``.

    Retransmitted until a ``data_channel_ack`` for ``channel_id`` arrives; the chunk size and
    the sha256 digest travel in-band (see :mod:`rtcstate.transfer`)."""

    TYPE: ClassVar[str] = "file_offer"
    ROUTE: ClassVar[str | None] = "transfer_id"
    transfer_id: str
    call_id: str
    channel_id: str
    name: str
    mime: str
    size: int


@register
@attrs.frozen(slots=True)
class FileCancel(Message):
    """either direction: abandon a file transfer."""

    TYPE: ClassVar[str] = "file_cancel"
    ROUTE: ClassVar[str | None] = "transfer_id"
    transfer_id: str
    reason: str


# Contact messaging.


@register
@attrs.frozen(slots=True)
class ContactMessage(Message):
    """user -> contact: a text message (``uuid`` is the sender's message number)."""

    TYPE: ClassVar[str] = "contact_message"
    ROUTE: ClassVar[str | None] = None
    uuid: int
    content: str


@register
@attrs.frozen(slots=True)
class ContactData(Message):
    """user -> contact: arbitrary application data."""

    TYPE: ClassVar[str] = "contact_data"
    ROUTE: ClassVar[str | None] = None
    content: dict[str, Any]


# --------------------------------------------------------------------------------------------
# JSON backends


class _ParseProblem(ValueError):
    pass


def _reject_constant(name: str) -> NoReturn:
    raise _ParseProblem(f"{name} is not JSON")


def _pairs_to_dict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build a JSON object; a duplicate key's shadowed values must still be valid JSON.

    orjson rejects a document whose shadowed values hold a lone surrogate or an out-of-range
    number even though the value is then dropped; this reproduces that on the stdlib path.
    """
    obj = dict(pairs)
    if len(obj) != len(pairs):
        problem = _normalize_json([value for _key, value in pairs])
        if problem is not None:
            raise _ParseProblem(problem)
    return obj


def _parse_float(literal: str) -> float:
    value = float(literal)
    if value - value != 0.0:  # orjson: "number is infinity when parsed as double"
        raise _ParseProblem(f"number {literal[:30]} overflows a double")
    return value


#: Digits of the shortest integer literal that overflows a double (10**308 does not).
_OVERFLOW_DIGITS: Final = 309


def _parse_int(literal: str) -> int:
    """An integer literal, refused (as orjson refuses it) when it overflows a double."""
    value = int(literal)
    if len(literal) >= _OVERFLOW_DIGITS:
        try:
            float(value)
        except OverflowError:
            raise _ParseProblem("number overflows a double") from None
    return value


# Two stdlib scanners. The exact one hands every object's pairs to `_pairs_to_dict`, which
# checks the values a duplicate key shadows (orjson refuses a document whose dropped value holds
# a lone surrogate or an integer that overflows a double). The fast one lets the C scanner build
# the dicts (the last duplicate wins, as with `dict(pairs)`): used for a text that cannot hold a
# lone surrogate (one needs a `\u` escape: a raw one is refused before parsing), where only a
# long integer literal could be a hidden problem, and `_parse_int` refuses that wherever it is.
# A text shorter than such a literal is scanned without even that hook.
_std_decoder: Final = json.JSONDecoder(
    object_pairs_hook=_pairs_to_dict, parse_constant=_reject_constant, parse_float=_parse_float
)
_ScanOnce = Callable[[str, int], tuple[Any, int]]
_std_scan: Final[_ScanOnce] = getattr(_std_decoder, "scan_once")  # noqa: B009 (untyped C attr)
_std_full_decode: Final = _std_decoder.decode
_fast_decoder: Final = json.JSONDecoder(
    parse_constant=_reject_constant, parse_float=_parse_float, parse_int=_parse_int
)
_fast_scan: Final[_ScanOnce] = getattr(_fast_decoder, "scan_once")  # noqa: B009
_fast_full_decode: Final = _fast_decoder.decode
_short_decoder: Final = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_parse_float)
_short_scan: Final[_ScanOnce] = getattr(_short_decoder, "scan_once")  # noqa: B009
_std_encode: Final = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
).encode

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None  # type: ignore[assignment]

_BOM: Final = "\ufeff"


def _parse_failure(text: str, exc: BaseException) -> DecodeError:
    if text.startswith(_BOM):
        return DecodeError(DecodeReason.INVALID_ENCODING, "byte order mark is not allowed")
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return DecodeError(DecodeReason.MALFORMED_JSON, detail[:200])


def _oversize(size: int, max_size: int) -> DecodeError:
    return DecodeError(DecodeReason.OVERSIZE, f"{size} bytes exceeds the {max_size}-byte limit")


def _check_text(data: str, max_size: int) -> None:
    """Size (UTF-8 length) and encodability of a str input."""
    if len(data) > max_size:  # the UTF-8 length is at least the code point count
        raise _oversize(len(data), max_size)
    if not data.isascii():
        try:
            size = len(data.encode("utf-8"))
        except UnicodeEncodeError:
            raise DecodeError(
                DecodeReason.INVALID_ENCODING, "lone surrogate in text input"
            ) from None
        if size > max_size:
            raise _oversize(size, max_size)


def _as_bytes(data: object) -> bytes:
    if isinstance(data, bytearray | memoryview):
        try:
            return bytes(data)
        except Exception as exc:
            raise DecodeError(DecodeReason.INVALID_ENCODING, f"unreadable buffer: {exc}") from None
    raise DecodeError(
        DecodeReason.WRONG_TYPE, f"decode() takes bytes or str, not {type(data).__name__}"
    )


def _parse_stdlib(data: bytes | str, max_size: int) -> Any:
    if type(data) is bytes:
        if len(data) > max_size:
            raise _oversize(len(data), max_size)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(DecodeReason.INVALID_ENCODING, str(exc)[:200]) from None
    elif type(data) is str:
        _check_text(data, max_size)
        text = data
    else:
        return _parse_stdlib(_as_bytes(data), max_size)
    # Depth before the parse: the stdlib scanner recurses once per level, and under Pyodide that
    # overflows the browser's stack (a JavaScript RangeError, not a RecursionError) on a frame a
    # few thousand levels deep.  Rejecting a too-deep text first never changes the reason: a
    # malformed text is MALFORMED_JSON either way, except a leading BOM (INVALID_ENCODING),
    # which the scanner rejects at offset 0 without recursing.
    if ("[" in text or text.find("{", 1) >= 0) and not text.startswith(_BOM) and _too_deep(text):
        raise DecodeError(DecodeReason.MALFORMED_JSON, _TOO_DEEP)
    exact = "\\" in text and "\\u" in text  # (a one-character test first: memchr)
    if exact:
        scan, full_decode = _std_scan, _std_full_decode
    elif len(text) < _OVERFLOW_DIGITS:
        scan, full_decode = _short_scan, _fast_full_decode
    else:
        scan, full_decode = _fast_scan, _fast_full_decode
    try:
        # The C scanner directly: no encoding sniffing, no whitespace regexes on the hot path.
        try:
            obj, end = scan(text, 0)
        except StopIteration:
            end = -1
        if end != len(text):  # leading/trailing whitespace, or an error to report
            obj = full_decode(text)
    except Exception as exc:  # JSONDecodeError, RecursionError, int digit limit ValueError
        raise _parse_failure(text, exc) from None
    # Only a \u escape can smuggle a lone surrogate into a string (orjson rejects those).  The
    # strings an accepted message can hold are top-level values and list items; payloads are
    # walked by their checker, and anything else fails validation and is walked on that path.
    if exact and type(obj) is dict and _has_lone_surrogate(obj):
        raise DecodeError(DecodeReason.MALFORMED_JSON, "lone surrogate in string")
    return obj


def _has_lone_surrogate(obj: dict[str, Any]) -> bool:
    for value in obj.values():
        t = type(value)
        if t is str:
            if not value.isascii() and not _encodable(value):
                return True
        elif t is list:
            for item in value:
                if type(item) is str and not item.isascii() and not _encodable(item):
                    return True
    return False


def _parse_orjson(data: bytes | str, max_size: int) -> Any:
    if type(data) is bytes:
        if len(data) > max_size:
            raise _oversize(len(data), max_size)
    elif type(data) is str:
        _check_text(data, max_size)
    else:
        return _parse_orjson(_as_bytes(data), max_size)
    try:
        obj = _orjson.loads(data)
    except Exception as exc:
        if isinstance(data, bytes):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as uexc:
                raise DecodeError(DecodeReason.INVALID_ENCODING, str(uexc)[:200]) from None
        else:
            text = data
        raise _parse_failure(text, exc) from None
    if isinstance(data, bytes):
        # memchr fast exit; an int operand is much faster than b"[" here.
        if (0x5B in data or data.find(0x7B, 1) >= 0) and _too_deep(data):
            raise DecodeError(DecodeReason.MALFORMED_JSON, _TOO_DEEP)
    elif ("[" in data or data.find("{", 1) >= 0) and _too_deep(data):
        raise DecodeError(DecodeReason.MALFORMED_JSON, _TOO_DEEP)
    return obj


# The nesting limit is a property of the text, shadowed duplicate values included, so that it
# does not depend on a parser's own limit (orjson: 1024; stdlib: the ambient recursion limit).
_STRING_B: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET_B: Final = bytes(b for b in range(256) if b not in b"[]{}")
_CURLY_B: Final = bytes.maketrans(b"{}", b"[]")


def _nested_brackets(depth: int) -> re.Pattern[bytes]:
    """A regex matching exactly the balanced "[...]" sequences nested at most ``depth`` deep."""
    pattern = b""
    for _ in range(depth):
        pattern = rb"(?:\[" + pattern + rb"\])*+"  # possessive: linear time, no backtracking
    return re.compile(pattern)


_WITHIN_MAX_DEPTH: Final = _nested_brackets(MAX_DEPTH)


def _too_deep(data: bytes | str) -> bool:
    """Whether a document's text nests deeper than MAX_DEPTH (strings excluded).

    Exact for valid JSON; for a malformed text (unbalanced brackets, an unterminated string) it
    may say True, which is harmless: such a text is MALFORMED_JSON anyway.  Linear time, no
    recursion, so it is safe to run before a parser.  Callers skip the call when the text has no
    "[" and no "{" after the first character.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return False
    brackets = _STRING_B.sub(b"", raw).translate(_CURLY_B, _NOT_BRACKET_B)
    return _WITHIN_MAX_DEPTH.fullmatch(brackets) is None


_TOO_DEEP: Final = f"nesting deeper than {MAX_DEPTH}"


def _dumps_stdlib(obj: dict[str, Any]) -> bytes:
    return _std_encode(obj).encode("utf-8")


def _dumps_orjson(obj: dict[str, Any]) -> bytes:
    return _orjson.dumps(obj)


_parse: Callable[[bytes | str, int], Any] = _parse_stdlib
_dumps: Callable[[dict[str, Any]], bytes] = _dumps_stdlib
_backend: str = "stdlib"
_stdlib_active: bool = True


def available_json_backends() -> tuple[str, ...]:
    """The JSON backends usable in this interpreter (``"stdlib"`` is always there)."""
    return ("orjson", "stdlib") if _orjson is not None else ("stdlib",)


def json_backend() -> str:
    """The name of the active JSON backend."""
    return _backend


def use_json_backend(name: str) -> str:
    """Select the JSON backend (``"stdlib"`` or ``"orjson"``); return the previous one."""
    global _parse, _dumps, _backend, _stdlib_active
    previous = _backend
    if name == "orjson":
        if _orjson is None:
            raise ValueError("orjson is not installed")
        _parse, _dumps = _parse_orjson, _dumps_orjson
    elif name == "stdlib":
        _parse, _dumps = _parse_stdlib, _dumps_stdlib
    else:
        raise ValueError(f"unknown JSON backend {name!r}")
    _backend = name
    _stdlib_active = name == "stdlib"
    return previous


use_json_backend(available_json_backends()[0])


# --------------------------------------------------------------------------------------------
# Decoding


def _build(obj: Any) -> Envelope:
    if type(obj) is not dict:
        _fail(DecodeReason.NOT_AN_OBJECT, f"top level is {_jtype(obj)}, not an object")
    get = obj.get
    v = get("v", _MISSING)
    if type(v) is not int or v != PROTOCOL_VERSION:
        if v is _MISSING:
            _fail(DecodeReason.MISSING_FIELD, "field 'v' is missing")
        if type(v) is not int:
            _wrong("v", "integer", v)
        _fail(DecodeReason.UNKNOWN_VERSION, f"protocol version {v} is not supported")
    wire_type = get("type")
    spec = _SPECS.get(wire_type) if type(wire_type) is str else None
    if spec is None:
        if wire_type is None:
            if "type" not in obj:
                _fail(DecodeReason.MISSING_FIELD, "field 'type' is missing")
            _wrong("type", "string", None)
        if type(wire_type) is not str:
            _wrong("type", "string", wire_type)
        _fail(DecodeReason.UNKNOWN_TYPE, f"unknown message type {wire_type!r}")
    return spec.build(obj, get)


def decode(data: bytes | str, *, max_size: int = DEFAULT_MAX_SIZE) -> Envelope:
    """Parse and validate one wire message; raise :class:`DecodeError` (only) on any problem."""
    try:
        obj = _parse(data, max_size)
        try:
            # the hot path, _build's first checks inlined: an object of this version and of a
            # known type goes straight to its class's generated builder; anything else is
            # _build's (which reports the first problem, in its order)
            if type(obj) is dict:
                get = obj.get
                v = get("v")
                if type(v) is int and v == PROTOCOL_VERSION:
                    wire_type = get("type")
                    if type(wire_type) is str:
                        spec = _SPECS.get(wire_type)
                        if spec is not None:
                            return spec.build(obj, get)
            return _build(obj)
        except DecodeError:
            if not _stdlib_active:
                raise
            # stdlib error path: make the whole document what orjson would have produced
            # (a lone surrogate or an overflowing integer anywhere is MALFORMED_JSON; integers
            # beyond 64 bits become floats) and validate again, so that the reason is the one
            # orjson gives.
            problem = _normalize_json(obj)
            if problem is not None:
                raise DecodeError(DecodeReason.MALFORMED_JSON, problem) from None
            return _build(obj)
    except DecodeError as exc:
        raise exc from None
    except Exception as exc:  # safety net: decode must never leak anything else
        raise DecodeError(
            DecodeReason.INVALID_VALUE, f"internal validation error: {exc!r}"[:200]
        ) from None


#: what :func:`decode_keys` answers for an object it did not keep: "a ``from`` may be there"
_KEYS_UNKNOWN: Final[Mapping[str, Any]] = types.MappingProxyType({"from": None})


def decode_keys(
    data: bytes | str, *, max_size: int = DEFAULT_MAX_SIZE
) -> tuple[Envelope, Mapping[str, Any]]:
    """:func:`decode`, and the JSON object as parsed (its keys as written, escapes resolved,
    the last of duplicates kept; read it only): a relay checks there whether a ``from`` was
    written at all, even ``null`` (rtcstate.hub.restamp). When the first validation fails, the
    answer is :func:`decode`'s (the same error, or the message after the stdlib backend's
    second look, then with keys that say a ``from`` may be there)."""
    try:
        obj = _parse(data, max_size)
        return _build(obj), obj
    except Exception:
        return decode(data, max_size=max_size), _KEYS_UNKNOWN


# --------------------------------------------------------------------------------------------
# Encoding


def _encode_check(spec: _Spec, values: tuple[Any, ...]) -> None:
    for position, info in spec.encode_checks:
        value = values[position]
        if value is None:
            continue
        if info.kind is FieldKind.FLOAT:
            if type(value) is bool or not isinstance(value, int | float):
                raise EncodeError(f"{spec.cls.__name__}.{info.name}: not a number")
            if not math.isfinite(value):
                raise EncodeError(f"{spec.cls.__name__}.{info.name}: NaN/Infinity is not JSON")
        elif info.kind is FieldKind.PAYLOAD:
            problem = _payload_encode_problem(value)
            if problem is not None:
                raise EncodeError(f"{spec.cls.__name__}.{info.name}: {problem}")


def _payload_encode_problem(root: Any) -> str | None:
    if type(root) is not dict:
        return "payload must be a dict"
    stack: list[tuple[Any, int]] = [(root, 2)]  # the payload object is at depth 2
    while stack:
        value, level = stack.pop()
        t = type(value)
        if t is dict or t is list:
            if level > MAX_DEPTH:
                return f"nesting deeper than {MAX_DEPTH}"
            if t is dict:
                for key, item in value.items():
                    if not isinstance(key, str):
                        return f"object key {key!r} is not a str"
                    stack.append((item, level + 1))
            else:
                stack.extend((item, level + 1) for item in value)
        elif isinstance(value, bool | str) or value is None:
            continue
        elif isinstance(value, int):
            if not (_I64_MIN <= value <= _U64_MAX):
                return "integer outside the 64-bit range"
        elif isinstance(value, float):
            if not math.isfinite(value):
                return "NaN/Infinity is not JSON"
        else:
            return f"{type(value).__name__} is not a JSON value"
    return None


def _to_dict(message: Message, to: str | None, sender: str | None) -> dict[str, Any]:
    try:
        spec = _SPECS_BY_CLASS[type(message)]
    except KeyError:
        raise EncodeError(f"{type(message).__name__} is not a registered message") from None
    out: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": spec.cls.TYPE}
    if to is not None:
        out["to"] = to
    if sender is not None:
        out["from"] = sender
    values = spec.getter(message)
    if spec.encode_checks:
        _encode_check(spec, values)
    for name, value in zip(spec.names, values, strict=True):
        if value is not None:
            out[name] = value
    return out


def encode(message: Message, *, to: str | None = None, sender: str | None = None) -> bytes:
    """Serialize ``message`` as compact UTF-8 JSON (``sender`` goes on the wire as ``from``).

    Field types are trusted (checked statically); values JSON cannot carry raise
    :class:`EncodeError`.
    """
    obj = _to_dict(message, to, sender)
    try:
        return _dumps(obj)
    except (TypeError, ValueError) as exc:  # orjson.JSONEncodeError is a TypeError
        raise EncodeError(f"cannot encode {type(message).__name__}: {exc}") from None


def encode_envelope(env: Envelope) -> bytes:
    """Serialize an :class:`Envelope`: ``encode(env.message, to=env.to, sender=env.sender)``."""
    return encode(env.message, to=env.to, sender=env.sender)


# --------------------------------------------------------------------------------------------
# Relay security and scoped presence (issue 11). One block, appended: the server error codes
# the relay answers with (and which of them end a session for good) and the presence messages.


class ServerErrorCode(enum.StrEnum):
    """Every ``ServerError.code`` the relay sends (docs/wire.md, docs/security.md)."""

    NOT_REGISTERED = "not_registered"
    """A message other than ``register`` before registration."""
    INVALID_REGISTER = "invalid_register"
    """A ``register`` with an empty or malformed user or device."""
    UNEXPECTED = "unexpected"
    """A message without ``to`` that the relay does not handle itself."""
    FORBIDDEN = "forbidden"
    """A client tried to route a message only the relay may send."""
    USER_NOT_FOUND = "user_not_found"
    """Nobody at the destination (messages without a route id)."""
    OVERSIZE = "oversize"
    """A frame over the relay's message size."""
    DECODE_ERROR = "decode_error"
    """A frame that is not a valid message."""
    RATE_LIMITED = "rate_limited"
    """Over the message rate of the connection, its identity or its source address."""
    NAME_TOO_LONG = "name_too_long"
    """A user, device, tenant or group name over the relay's length limit."""
    TOO_MANY_DEVICES = "too_many_devices"
    """The user already has the most devices the relay allows online."""
    TOO_MANY_CONNECTIONS = "too_many_connections"
    """The source address already holds the most connections the relay allows."""
    RECONNECTING_TOO_FAST = "reconnecting_too_fast"
    """Over the registration rate of the identity, or the connection rate of the source."""
    TOO_MANY_SUBSCRIPTIONS = "too_many_subscriptions"
    """Over the presence subscriptions or groups a connection may hold."""
    AUTH_REQUIRED = "auth_required"
    """The relay requires a token and the ``register`` carried none."""
    TOKEN_INVALID = "token_invalid"
    """The token is malformed, has a bad signature or a refused algorithm."""
    TOKEN_EXPIRED = "token_expired"
    """The token's ``exp`` is past (also sent when it expires on an open connection)."""
    TOKEN_REVOKED = "token_revoked"
    """The token (its ``jti``) or its user (``sub``) was revoked (also sent to a live
    connection when its token is revoked)."""
    TOKEN_WRONG_USER = "token_wrong_user"
    """The token's ``sub`` is not the user of the ``register``."""
    DEVICE_NOT_ALLOWED = "device_not_allowed"
    """The device is not in the token's ``devices`` list."""
    ADDRESS_TAKEN = "address_taken"
    """The address is held by a live connection of another identity."""
    CONFLICT = "conflict"
    """Sent to the older connection when the same identity registered its address again."""
    REGISTER_TIMEOUT = "register_timeout"
    """The connection did not register in time."""
    IDLE_TIMEOUT = "idle_timeout"
    """The connection sent nothing for too long."""
    SLOW_CONSUMER = "slow_consumer"
    """The connection did not read what it was sent (its outgoing queue was full)."""


FINAL_ERROR_CODES: Final = frozenset(
    {
        ServerErrorCode.AUTH_REQUIRED,
        ServerErrorCode.TOKEN_INVALID,
        ServerErrorCode.TOKEN_EXPIRED,
        ServerErrorCode.TOKEN_REVOKED,
        ServerErrorCode.TOKEN_WRONG_USER,
        ServerErrorCode.DEVICE_NOT_ALLOWED,
        ServerErrorCode.ADDRESS_TAKEN,
        ServerErrorCode.CONFLICT,
        ServerErrorCode.TOO_MANY_DEVICES,
        ServerErrorCode.NAME_TOO_LONG,
        ServerErrorCode.INVALID_REGISTER,
    }
)
"""Codes after which a client must not reconnect on its own: trying again cannot succeed
(the session fails with the reason instead of entering its reconnection loop)."""


@register
@attrs.frozen(slots=True)
class PresenceBatch(Message):
    """relay -> client: the online devices (``"user/device"``) of several contacts at once
    (the initial presence of a registration or a subscription, split in bounded messages).

    Coalesced presence (a relay with a ``presence_interval``) also sends changes this way, and
    says where they come from: ``group`` the presence group (None: the receiver's contact
    subscriptions), ``devices`` every device of each user listed (who is in ``group``, or
    online), ``left`` the users who left ``group`` (or went offline). ``left`` None: the
    older form, online devices only."""

    TYPE: ClassVar[str] = "presence_batch"
    ROUTE: ClassVar[str | None] = None
    devices: list[str]
    group: str | None = None
    left: list[str] | None = None


@register
@attrs.frozen(slots=True)
class PresenceSubscribe(Message):
    """client -> relay: hear the presence of these users and of these presence groups."""

    TYPE: ClassVar[str] = "presence_subscribe"
    ROUTE: ClassVar[str | None] = None
    contacts: list[str]
    groups: list[str]


@register
@attrs.frozen(slots=True)
class PresenceUnsubscribe(Message):
    """client -> relay: stop hearing these users and presence groups."""

    TYPE: ClassVar[str] = "presence_unsubscribe"
    ROUTE: ClassVar[str | None] = None
    contacts: list[str]
    groups: list[str]


@register
@attrs.frozen(slots=True)
class PresenceGroups(Message):
    """client -> relay: publish this device's presence in ``join`` groups, stop in ``leave``
    (apiRTC's ``joinGroup`` / ``leaveGroup``)."""

    TYPE: ClassVar[str] = "presence_groups"
    ROUTE: ClassVar[str | None] = None
    join: list[str]
    leave: list[str]


__all__ += [
    "FINAL_ERROR_CODES",
    "PresenceBatch",
    "PresenceGroups",
    "PresenceSubscribe",
    "PresenceUnsubscribe",
    "ServerErrorCode",
]
# ---- end of the relay security block --------------------------------------------------------
