"""The demo node."""

from demo_common import greeting

from demo_node._version import __version__

__all__ = ["__version__", "hello"]


def hello() -> str:
    return greeting(f"node {__version__}")
