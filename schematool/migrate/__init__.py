"""Bringing the live services up to the contracts: observe, plan, apply (``make schemas``),
and the drift report (``make schemas-diff``)."""
