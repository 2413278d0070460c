"""The video pipeline: probe, transcode to an HLS ladder, thumbnails, audio, fingerprints, storage.

Plain Python, no Airflow: the ``video_transcode`` DAG (``dags/video_transcode.py``) calls the
thin wrappers in :mod:`orchestration.media_operators` (the application layer), and ``fyp upload
--wait`` runs the very same step functions in-process through
:func:`fyplake.media.pipeline.run_pipeline`.

Modules, in the order an upload meets them:

- :mod:`~fyplake.media.uploads`: the hand-off (``submit_upload``) and its durable queue
  (``upload_jobs``), triggering Airflow when it is reachable, a drain for the rest.
- :mod:`~fyplake.media.probe`: a real probe (PyAV) and the validation rules.
- :mod:`~fyplake.media.fingerprint`: perceptual hashes of sampled frames, duplicate detection.
- :mod:`~fyplake.media.transcode`: the rendition ladder, made by one ffmpeg filter graph (HLS).
- :mod:`~fyplake.media.thumbnails`, :mod:`~fyplake.media.audio`: thumbnails; audio extraction,
  audio fingerprint and sound linking.
- :mod:`~fyplake.media.store`: the media object store (local folder or S3).
- :mod:`~fyplake.media.pipeline`: the steps as idempotent functions over one video id.
- :mod:`~fyplake.media.catalog`: what the serving API reads (``video_media``).

Importing this package is cheap: heavy libraries (PyAV, numpy, boto3, psycopg) are imported inside
the functions that need them.
"""
