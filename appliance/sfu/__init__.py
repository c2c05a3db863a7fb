"""The SFU process: signaling, WebRTC peers, encoded forwarding, recording and caption taps."""
