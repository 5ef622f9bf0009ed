"""reasonmed.agents"""
