"""The report: figures, and the HTML pages of a run and of predictions on recordings."""
