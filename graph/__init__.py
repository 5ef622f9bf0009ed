"""reasonmed.graph"""
