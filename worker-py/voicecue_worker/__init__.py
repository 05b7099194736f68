"""voicecue sidecar: speech engines and aligners behind a JSON-lines protocol on stdio."""

__version__ = "0.1.0"
