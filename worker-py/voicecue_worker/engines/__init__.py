"""Speech engines: ``espeak`` (CPU, libespeak-ng via ctypes) and ``f5`` (GPU, detection only)."""

ENGINE_NAMES = ("espeak", "f5")
