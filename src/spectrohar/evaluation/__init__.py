"""Evaluation on the participants held out: the split, each model's validation and test
predictions, their scores with confidence intervals, and the comparison of every run."""
