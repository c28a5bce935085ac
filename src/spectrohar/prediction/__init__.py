"""A trained model on new recordings: predictions per window, non-wear, daily summaries."""
