"""rtcstate: a sans-I/O call-control core modelled on apiRTC."""

# The conversation messages register themselves with the wire registry on import; importing
# them here makes `rtcstate.wire.decode` know them whatever module a program imports first.
from rtcstate import wire_contact as _wire_contact  # noqa: F401
from rtcstate import wire_conversation as _wire_conversation  # noqa: F401
from rtcstate import wire_streams as _wire_streams  # noqa: F401

__version__ = "0.1.0"
