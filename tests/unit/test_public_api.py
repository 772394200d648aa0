"""The release code uses other packages through their public interfaces only.

A private name (``_check_file``, ``twine.commands.check._WarningStream``, a ``_module``)
may change or vanish in any release of its package. Read from the source with ``ast``:
an import of an underscore name or module, and an underscore attribute of a name that an
import of another package bound.
"""

from __future__ import annotations

import ast

from tests.repos import CHECKOUT

OWN = ("release", "__future__")


def _private(dotted: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in dotted.split("."))


def private_uses(source: str) -> list[str]:
    """Every use of another package's private name in ``source``, as ``line: what``."""
    tree = ast.parse(source)
    found = []
    imported: set[str] = set()  # names bound to another package's module or object
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in OWN:
                    continue
                if _private(alias.name):
                    found.append(f"{node.lineno}: import {alias.name}")
                imported.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in OWN:
                continue
            for alias in node.names:
                if _private(node.module) or _private(alias.name):
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
                imported.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in imported:
                found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_of_the_release_code_uses_a_private_name_of_another_package():
    found = {
        str(path.relative_to(CHECKOUT)): uses
        for path in sorted((CHECKOUT / "release").rglob("*.py"))
        if (uses := private_uses(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_the_scan_finds_the_private_twine_check_helpers_the_build_once_used():
    old = (
        "def twine_problems(paths):\n"
        "    from twine.commands.check import _check_file, _WarningStream\n"
        "    import twine.commands.check as check\n"
        "    return check._check_file(paths[0], _WarningStream())\n"
    )
    assert private_uses(old) == [
        "2: from twine.commands.check import _check_file",
        "2: from twine.commands.check import _WarningStream",
        "4: check._check_file",
    ]
    # Our own modules' private names, dunders and attributes of our own objects are fine.
    own = (
        "from release.core.git import _helper\n"
        "import os\n"
        "x = os.__name__\n"
        "def f(git):\n"
        "    git._git_dir = 1\n"
    )
    assert private_uses(own) == []


def test_every_package_the_release_code_imports_is_a_declared_dependency():
    """``readme_renderer`` (twine check's renderer, called directly) included: a package
    that only arrives as another's dependency may be dropped by it in any release."""
    import importlib.metadata
    import sys
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((CHECKOUT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = {k: v for k, v in project["optional-dependencies"].items() if k != "dev"}
    declared = {
        canonicalize_name(Requirement(line).name)
        for line in [*project["dependencies"], *(r for group in extras.values() for r in group)]
    }
    modules: set[str] = set()
    for path in (CHECKOUT / "release").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    distributions = importlib.metadata.packages_distributions()
    undeclared = {
        module: distributions.get(module)
        for module in modules - set(sys.stdlib_module_names) - set(OWN)
        if not {canonicalize_name(d) for d in distributions.get(module, [])} & declared
    }
    assert "readme_renderer" in modules
    assert undeclared == {}
