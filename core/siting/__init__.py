"""Monitor siting: where N new monitors would help the most people (score.py) and whether it works (validate.py)."""
