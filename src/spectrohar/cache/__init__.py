"""The cache: recordings cut into windows, and the spectrogram and feature stores made from them,
with the stores' layout and I/O, the quality table, and the batch reader of the spectrograms."""
