"""The systems a user would pick instead of gitward, measured in the same bench run (a column each).

flux             Flux's controllers as processes, CRDs, manifests, status reading
flux_scenarios   the scenarios Flux can do comparably (1, 2, 3, 5, 6, 7), filling the rows' flux cells
"""
