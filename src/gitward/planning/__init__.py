"""Planning (pure): normalise rendered objects, order them, compare with live state, compute inventory and prune sets."""
