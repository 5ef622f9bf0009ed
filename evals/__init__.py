"""reasonmed.evals"""
