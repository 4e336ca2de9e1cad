"""barge: a container engine that speaks the Docker Engine API.

Drivers (graph, network, exec) are separate packages found through entry
points; the core only dispatches hooks to them.
"""

__version__ = "0.1.0"

#: API version the daemon advertises, and the oldest it accepts.
API_VERSION = "1.47"
MIN_API_VERSION = "1.24"
