//! The KTP reader: synthetic card renderer, field parsing, and (later) the ONNX recogniser.
