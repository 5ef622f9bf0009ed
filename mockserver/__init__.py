"""reasonmed.mockserver"""
