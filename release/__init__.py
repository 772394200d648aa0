"""release-tasks: one version tag in, a finished release out.

The library behind the invoke collection in ``tasks.py``: data flows one way,
tag -> version -> config -> observed state -> plan -> steps -> report.
"""

__version__ = "0.1.0"
