"""Public test kit: harnesses, strategies and exhaustive checkers for rtcstate machines.

Installed by the ``testing`` extra (``pip install 'rtcstate[testing]'``, which brings
Hypothesis); without it, importing this package fails with one line naming the extra. The
pytest plugin (:mod:`rtcstate_pytest`) gives its fixtures; docs/testing.md is the guide.
"""

from rtcstate.extras import require

require("testing", "rtcstate.testing")
