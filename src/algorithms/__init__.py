"""Algorithms: the contract every model family implements, the built-ins, and their discovery.

``algorithms.base`` holds the contract and the model metadata card, ``algorithms.catalogue`` finds
installed algorithms through the ``warehouse.algorithms`` entry-point group.
"""
