"""reasonmed.prompts"""
