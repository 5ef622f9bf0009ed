"""Training data out of a run's stored examples."""
