"""The ImageNet classifier: the committed ONNX model, its metadata, preprocessing and batched inference."""
