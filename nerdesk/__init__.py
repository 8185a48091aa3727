"""nerdesk: keep NER models accurate with a human in the loop, offline, on a laptop."""

import os

# onnxruntime resolves a telemetry host ~9 s after a session starts unless told not to; nerdesk
# never opens a network connection. Set before any import of onnxruntime (sessions also call
# onnxruntime.disable_telemetry_events(): nerdesk.core.model.onnx_model.make_session).
os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # whatever the environment says

__version__ = "0.1.0"
