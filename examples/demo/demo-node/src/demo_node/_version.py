"""The version of demo-node, kept as vantage6 keeps it: a tuple plus a build number file."""

import json
import os

here = os.path.abspath(os.path.dirname(__file__))

# The build number (N of aN/bN/rcN) lives in __build__, written by the release pipeline.
with open(os.path.join(here, "__build__")) as fp:
    __build__ = json.load(fp)

# Module version: (major, minor, patch, stage, build, post)
version_info = (1, 0, 0, "final", __build__, 0)

_specifier_ = {"alpha": "a", "beta": "b", "candidate": "rc", "final": ""}
_major, _minor, _patch, _stage, _build, _post = version_info
__version__ = f"{_major}.{_minor}.{_patch}"
if _stage != "final":
    __version__ += f"{_specifier_[_stage]}{_build}"
if _post:
    __version__ += f".post{_post}"
