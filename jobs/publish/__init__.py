"""The jobs that publish the lake to the serving stores: ``postgres`` (metadata, embeddings and
creator stats into Postgres, the ready set), ``feeds`` (feeds and lists into Valkey) and
``counters`` (Valkey's engagement counters into Postgres, exactly once).
"""
