"""Public test kit: harnesses, strategies and exhaustive checkers for rtcstate machines."""
