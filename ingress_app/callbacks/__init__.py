"""Results pushed to callers: signed callbacks and REST-hook subscriptions.

A status change writes its callback rows in the same transaction (`enqueue`), and the
callbacks relay (`relay.CallbackRelay`) sends them with Standard Webhooks signatures,
retrying with backoff; `ssrf` decides which addresses may be called at all.
"""
