"""Question sources: reading question files into validated `Question`s, with errors by line."""
