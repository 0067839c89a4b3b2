"""`evision bench`: how close the whole pipeline comes to the bare model, on this machine.

(a) the bare classifier (`evision bench-model`), (b) the worker loop alone (queue -> result),
(c)/(d) end to end through HTTP on the local and the aws (moto) backend, same images.
"""
