"""Gradio adapters: the reviewer app and the analyst dashboard (``review serve``).

Callbacks are thin: read the logged-in user from ``gr.Request`` and the opaque
assignment id from server-side state, call ``review.*``, format the result.
"""
