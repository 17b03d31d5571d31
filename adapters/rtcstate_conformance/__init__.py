"""The wire conformance suite: ``rtcstate conformance`` against any client of the wire protocol.

Theory of operation
-------------------
Like Autobahn|Testsuite for websockets: :mod:`~rtcstate_conformance.server` plays the relay and
a scripted far side on one loopback websocket port; the client under test connects to
``/relay`` as it would to a relay, and a small driver of that client (its *testee*) takes
commands on ``/control`` (register, call, accept, hang up, open a data channel, send a file...)
and reports the client's events. :mod:`~rtcstate_conformance.cases` holds the numbered cases
(1.x registration and keep-alive ... 8.x hostile input), each with its expectation and a
verdict (pass, non-strict, fail, or unsupported when the testee lacks a capability);
:mod:`~rtcstate_conformance.report` writes the JSON and HTML reports;
:mod:`~rtcstate_conformance.testee` is rtcstate's own testee (the asyncio API), and
:mod:`~rtcstate_conformance.runner` ties them together for the ``rtcstate conformance``
command. The control protocol is documented in docs/conformance.md.
"""

from __future__ import annotations

__all__: list[str] = []
