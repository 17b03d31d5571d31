"""rtcstate: a sans-I/O call-control core modelled on apiRTC."""

__version__ = "0.1.0"
