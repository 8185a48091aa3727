"""The Qt-free, torch-free core of nerdesk: store, formats, tokenisation, inference, routing.

Nothing under this package imports PySide6 or torch (tests/core/test_no_qt.py checks it).
"""
