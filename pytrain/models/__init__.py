"""Hand-written recurrent layers (`rnn.py`, `lstm.py`, `attention.py`) and the classifier
that stacks them (`classifier.py`)."""

from pytrain.models.classifier import Ensemble, ModelConfig, RecurrentClassifier, count_parameters, match_hidden

__all__ = ["Ensemble", "ModelConfig", "RecurrentClassifier", "count_parameters", "match_hidden"]
