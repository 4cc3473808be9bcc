"""`compare`: the grid {RNN, LSTM (parameters matched to the RNN), 2-layer LSTM, attention
LSTM} x {word, BPE at several vocabulary sizes}, same split, seeds and budget."""
