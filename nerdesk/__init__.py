"""nerdesk: keep NER models accurate with a human in the loop, offline, on a laptop."""

__version__ = "0.1.0"
