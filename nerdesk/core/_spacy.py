"""Import spaCy without pulling PyTorch into the process.

thinc (spaCy's ML library) imports torch whenever it is installed, which costs ~1.5 s and
hundreds of MB, and the app must never load torch. Unless torch is already loaded (the
training process), we mark it as absent before spaCy is imported; thinc then runs without it.
"""

from __future__ import annotations

import sys


def import_spacy():
    if "thinc" not in sys.modules and "torch" not in sys.modules:
        sys.modules["torch"] = None  # type: ignore[assignment]  # import torch -> ImportError
        try:
            import spacy
        finally:
            del sys.modules["torch"]  # a later explicit `import torch` (training) still works
        return spacy
    import spacy

    return spacy
