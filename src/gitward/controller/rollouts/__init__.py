"""Progressive delivery (SPEC §10): the Rollout controller, started by `controller.manager`.

steps         the step machine (pure): spec + status + observations → next status, Events
measuring     analysis bookkeeping (pure): due, record
objects       the primary, Services and HTTPRoute rules (pure builders)
providers     Prometheus, web and Job measurements (I/O)
acting        whose identity the writes for a Rollout carry (its Application's, verified; I/O)
reconciling   `RolloutController`: informers, queue, one reconcile (I/O)
"""

from __future__ import annotations

from gitward.controller.rollouts.reconciling import RolloutController

__all__ = ["RolloutController"]
