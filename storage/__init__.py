"""reasonmed.storage"""
