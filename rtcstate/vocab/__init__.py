"""apiRTC's vocabulary, one concern per module (the stable import path is :mod:`rtcstate.codes`).

* :mod:`~rtcstate.vocab.base`: documented enums (``.doc``, ``.origin``) and :class:`Origin`;
* produced by the machines: :mod:`~rtcstate.vocab.errors` (numbered errors, ``error`` codes),
  :mod:`~rtcstate.vocab.reasons` (hangup / decline reasons, ``from``),
  :mod:`~rtcstate.vocab.statuses` (``getStatus()``), :mod:`~rtcstate.vocab.values` (payload
  and option values);
* :mod:`~rtcstate.vocab.events`: event names per class;
* :mod:`~rtcstate.vocab.reference`: value sets no machine produces (documentation only);
* :mod:`~rtcstate.vocab.catalogue`: every set in order, ``docs/codes.md`` and ``rtcstate codes``.

Drop reasons (why a machine ignored an input) are declared next to each machine, as subclasses
of :class:`rtcstate.drops.DropReason`.
"""
