"""ApplicationSets (SPEC §11): Applications generated from parameters.

The manager starts `AppSets` next to the Application controller. Modules:

    generators   parameter sets from list / git / clusters / matrix / merge (pure)
    templates    the template rendered per parameter set in a sandbox (pure)
    gathering    Git trees (shared fetch and checkout) and cluster Secrets the generators read
    reconciling  one set: gather → generate → render → plan → write → status
    controller   watch, queue and workers
"""

from gitward.controller.appsets.controller import AppSets

__all__ = ["AppSets"]
