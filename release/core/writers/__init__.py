"""Version writers: the version read and written in each kind of version file.

Why a package of its own: the writers are a library of file edits that several places use
without the ``bump`` step's git and push machinery: the release tree (``release.run.worktree``)
writes the version with them, the UI step writes ``package.json`` with them, and the
pre-flight asks whether a changed file already holds the version (``plan.holds_version``,
``plan.version_file_map``, ``plan.companion_paths``). ``release.steps.bump.step`` is the step
that commits and pushes what they write. Nothing here pushes, commits or records state.

Writers (``[[tool.release.version-files]]`` ``kind``), one module a family:

- ``python``: ``pyproject`` (``[project].version`` and the ``==`` pins on sibling packages),
  ``version-info`` (vantage6's ``version_info`` tuple and the ``__build__`` file beside it),
  ``dunder`` (a module-level ``__version__ = "..."``).
- ``manifests``: ``package-json`` (the top-level ``"version"``, and ``packages[""].version``
  in a lock file) and ``dockerfile`` (``LABEL version="..."`` or ``ARG <arg>=...``).
- ``kinds``: ``regex`` (every match of ``pattern``) and the table of every kind's writer.

``format`` (the template fields of docs/configuration.md) replaces a kind's own form (PEP 440;
npm SemVer for ``package-json``; the Docker tag for ``dockerfile``).

``plan`` plans the changes over a tree (``trees``: a folder or a commit): a glob passes over
files without the writer's marker (and lists them) but must find the marker in at least one
file; an exact path must have it. Every file is checked before any is written; ``change``
writes each atomically (temporary file + rename) with its encoding, byte order mark, line
endings and permissions kept.
"""
