"""Use cases: each handler calls exactly one of these. They join the pure domain to the adapters."""
