"""The controller: watches, work queue, reconciler wiring the pipeline, leader election."""
