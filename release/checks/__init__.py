"""The pre-flight checks of each step, one light module per step.

``check-version`` runs every planned step's checks (DESIGN.md "Tasks"), and it must start
fast: these modules import only what the checks need (configuration, git, the credential
readers), never the machinery of the step itself (build, twine, docker, the Discord and
Azure clients, rich). The step modules import from here and delegate their ``problems``
method to the ``problems(ctx)`` function of their module; anything that needs the network
is imported inside the function, after ``--offline`` has had its say.
"""
