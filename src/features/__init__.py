"""Features: synthetic populations, the Feast feature store, training sets and feature lookups.

- :mod:`features.buildings` and :mod:`features.datasets`: seeded populations written as parquet;
- :mod:`features.definitions`: the feature catalogue and the Feast objects built from it;
- :mod:`features.store`: opening the store, applying definitions, materialising;
- :mod:`features.training`, :mod:`features.offline`, :mod:`features.online`: point-in-time
  training sets, whole-population feature vectors, online lookups;
- :mod:`features.schemas`: pandera schemas of every frame this package hands over.

Importing this package imports nothing heavy; Feast is imported inside the functions that use it.
"""
