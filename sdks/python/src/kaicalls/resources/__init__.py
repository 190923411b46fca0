"""The API's resources (``kai.calls``, ``kai.leads``, ...), sync and async.

Each resource is written once as a generic base whose methods build a `Req` and hand
it to ``send``; the sync client's ``send`` returns the result, the async client's an
awaitable of it. Methods that loop (``wait``, ``iter``) are written twice.
"""
