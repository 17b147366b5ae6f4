"""Planning (pure): normalise rendered objects, order them, compare with live state, compute
inventory and prune sets.

Sits between rendering and applying. No I/O: every function takes plain data (manifests, live
objects from the caller's cache, inventory entries) and returns values. Modules, in flow order:
`normalizing`, `conflicts`, `ordering`, `comparing` (with `fieldsets`), `inventory`, `prune`.
"""
