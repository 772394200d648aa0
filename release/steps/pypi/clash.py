"""What the release's wheels install, and where they would step on each other.

Pure functions over the file lists of wheels (the paths of their ``RECORD``), so the rules
are tested with tables; ``release.steps.pypi.verify`` reads the lists from the built files.

Two rules, both warnings (``strict-wheels = true`` on ``[tool.release]`` makes them errors):

- a wheel installs a top-level package or module with a generic name (``tests``, ``test``,
  ``docs``, ``examples``, ``benchmarks``, ``scripts``): other distributions install the
  same name, and whichever is installed last overwrites the other's files;
- two of the release's wheels install the same file. Files are compared, not folders: a
  namespace folder shared under PEP 420 (``vantage6/`` holding the subpackages of several
  distributions, with no ``__init__.py`` of its own) is no clash, but the ``__init__.py``
  of a regular package that two wheels ship is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

GENERIC_NAMES = ("tests", "test", "docs", "examples", "benchmarks", "scripts")
# Where the files of a wheel's ``<name>.data/<scheme>/`` folder are installed: purelib and
# platlib beside the packages, the others into places that are not import paths.
DATA_SCHEMES = {"purelib": "", "platlib": "", "scripts": "[scripts]/", "data": "[data]/"}
SHOWN = 3  # files named per clash; the rest are counted


def installed_paths(record: Iterable[str]) -> list[str]:
    """Where each file of a wheel lands, relative to the environment's site-packages.

    ``<dist>.data/purelib/x`` and ``platlib/x`` land at ``x``; scripts, data and headers
    land outside site-packages and are named ``[scripts]/run``, ``[data]/share/x`` and
    ``[headers]/<dist>/x.h`` (headers go into a folder of their distribution's own).
    """
    found = []
    for path in record:
        path = path.strip().replace("\\", "/")
        if not path or path.endswith("/"):
            continue
        head, _, rest = path.partition("/")
        if head.endswith(".data") and rest:
            scheme, _, inner = rest.partition("/")
            if not inner:
                continue
            if scheme == "headers":
                found.append(f"[headers]/{head.removesuffix('.data')}/{inner}")
            else:
                found.append(DATA_SCHEMES.get(scheme, f"[{scheme}]/") + inner)
            continue
        found.append(path)
    return found


def top_level_names(paths: Iterable[str]) -> list[str]:
    """The top-level names a wheel installs into site-packages: its folders and modules.

    ``installed_paths`` come in; metadata (``*.dist-info``) and what lands outside
    site-packages (``[scripts]/...``) are not names anyone imports.
    """
    names = set()
    for path in paths:
        head, sep, _ = path.partition("/")
        if head.startswith("[") or head.endswith(".dist-info"):
            continue
        if sep:
            names.add(head)
        elif head.endswith((".py", ".so", ".pyd")):
            names.add(head.split(".", 1)[0])
    return sorted(names)


def generic_names(paths: Iterable[str]) -> list[str]:
    """The top-level names among ``paths`` that other distributions use too."""
    return [name for name in top_level_names(paths) if name.lower() in GENERIC_NAMES]


def shared_files(wheels: Mapping[str, Sequence[str]]) -> list[tuple[tuple[str, ...], list[str]]]:
    """The files that two or more wheels install, grouped by the wheels that share them.

    ``wheels`` maps a wheel's file name to its ``installed_paths``. Each group is (the
    wheels, sorted; the paths they all install, sorted), the groups in the wheels' order.
    """
    owners: dict[str, set[str]] = {}
    for wheel, paths in wheels.items():
        for path in set(paths):
            owners.setdefault(path, set()).add(wheel)
    groups: dict[tuple[str, ...], list[str]] = {}
    for path, found in owners.items():
        if len(found) > 1:
            groups.setdefault(tuple(sorted(found)), []).append(path)
    return [(key, sorted(groups[key])) for key in sorted(groups)]


def wheel_warnings(wheels: Mapping[str, Sequence[str]]) -> list[str]:
    """One line per generic top-level name and per group of shared files (see the module)."""
    found = []
    for wheel, paths in wheels.items():
        for name in generic_names(paths):
            found.append(
                f"{wheel} installs a top-level package {name!r}, a name other distributions "
                f"install too (the last one installed overwrites the other's files): leave it "
                f"out of the wheel (setuptools: find_packages(exclude=[{name!r}, "
                f"'{name}.*'])) or move it inside your own package"
            )
    for owners, paths in shared_files(wheels):
        shown = ", ".join(paths[:SHOWN])
        if len(paths) > SHOWN:
            shown += f" and {len(paths) - SHOWN} more"
        found.append(
            f"{_join(owners)} install the same file(s): {shown} (installed together, the last "
            "overwrites the others, and uninstalling one removes them for all): give each "
            "wheel its own paths (a folder they share must be a namespace folder without "
            "__init__.py, PEP 420)"
        )
    return found


def _join(names: Sequence[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + f" and {names[-1]}"
