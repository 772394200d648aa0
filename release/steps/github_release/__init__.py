"""The ``github-release`` step: the GitHub release of every version tag, with its files."""
