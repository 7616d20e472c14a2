"""The web layer of ``review serve``: the JSON API (FastAPI, ``/api/v1``), the login routes and
the Gradio page (reviewer app, analyst dashboard, admin), behind one security middleware.

Handlers are thin: read the signed-in account (the middleware found it from the session
cookie) and the request, call one ``review.*`` service, format the result. The page's state
holds only the opaque id of the assignment on screen and the screen's mode.
"""
