"""The REST API's contract, shared by the HTTP client and ``steward server``.

``endpoint`` declares each exposed store method once; ``codec`` turns typed
values into JSON and back; ``client`` and ``blobs`` are the HTTP side of the
store and blob seams. Nothing here imports FastAPI.
"""
