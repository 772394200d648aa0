"""Shared code of the demo node and server."""

__version__ = "1.0.0"


def greeting(name: str) -> str:
    return f"hello {name} from demo-common {__version__}"
