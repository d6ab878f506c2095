"""The browser interface of a round (``xlsx-tools serve``): Starlette, uvicorn, Jinja2.

Only the ``serve`` command imports this package; the library never does.
"""
