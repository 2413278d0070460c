"""Importers for real interaction logs: they write the same landing records as every producer.

* ``movielens``: the MovieLens 100K folder (``u.data``, ``u.item``, ``u.user``, ``u.genre``);
* ``kuairec``: a KuaiRec matrix CSV (``small_matrix.csv`` / ``big_matrix.csv``);
* ``csv_log``: a generic ``user,item,timestamp[,weight|completion]`` CSV.

Records keep their original timestamps and land in the *current* arrival hour (they arrive now),
so the next ingest of today picks them up and files each event under its own (past) event date.
Nothing is dropped here: a row with a bad value is written as it is and the ingest quarantines
it with a reason. How explicit ratings become engagement is ``signals.rating_events``.
"""

from fyplake.importers.common import ImportSummary

__all__ = ["ImportSummary"]
