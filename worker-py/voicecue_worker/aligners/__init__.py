"""Aligners: where word timings come from.

``native`` (cpu lane): the engine's own word events (espeak).
``whisperx`` (gpu lane): forced alignment of our known text to any audio.
``dtw`` (cpu lane): any espeak language in any audio, by warping espeak's own reading onto it.
"""
