"""Sentence encoders for semantic retrieval, all reading the packaged all-MiniLM-L6-v2 weights
(nothing is downloaded): `minilm` (the tokeniser and a numpy reference network) and `onnx`
(the same network as an int8 ONNX Runtime graph, the fast one used by default)."""
