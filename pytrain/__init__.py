"""pytrain: multi-label text classification with hand-written recurrent networks."""
