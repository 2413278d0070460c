"""Landing lines -> typed records, each with the first quarantine reason that applies (or null).

Pure ``DataFrame -> DataFrame`` transforms. A landing line is parsed once into a
``map<string,string>`` (so every field, present or absent, well- or mistyped, can be inspected),
then each declared field is cast with ``try_cast``: a present value that does not cast is a
mistyped field, never a silent null. Integers must be JSON integers (or digit strings); ``1.5``,
``1e3`` and ``"abc"`` are mistyped.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from fyplake.ids import PLATFORM_ID_BASE, PLATFORM_SOURCE
from fyplake.landing import EVENT_TYPES
from jobs.lake import reasons as R

#: Declared type of every landing field (fyplake.landing.ENTITIES documents their meaning).
FIELDS: dict[str, dict[str, str]] = {
    "events": {
        "event_id": "string",
        "event_type": "string",
        "user_id": "bigint",
        "video_id": "bigint",
        "creator_id": "bigint",
        "watch_ms": "bigint",
        "event_time": "timestamp",
        "source": "string",
        "comment_text": "string",
    },
    "users": {
        "user_id": "bigint",
        "age_band": "string",
        "country": "string",
        "language": "string",
        "signup_time": "timestamp",
        "is_creator": "boolean",
        "source": "string",
    },
    "videos": {
        "video_id": "bigint",
        "creator_id": "bigint",
        "duration_ms": "bigint",
        "title": "string",
        "description": "string",
        "hashtags": "array<string>",
        "sound_id": "bigint",
        "language": "string",
        "status": "string",
        "created_at": "timestamp",
        "source": "string",
    },
    "sounds": {
        "sound_id": "bigint",
        "title": "string",
        "creator_id": "bigint",
        "created_at": "timestamp",
        "source": "string",
    },
}

#: Fields every record of the entity must carry.
REQUIRED: dict[str, tuple[str, ...]] = {
    "events": ("event_id", "event_type", "user_id", "event_time"),
    "users": ("user_id",),
    "videos": ("video_id", "creator_id", "duration_ms"),
    "sounds": ("sound_id",),
}

#: Required fields whose explicit JSON ``null`` is a value: a video with ``"creator_id": null``
#: has no creator (an imported catalogue item: a rating log names no uploader), while a video
#: that leaves the field out (or blank) is still ``missing_field``, so a producer cannot drop
#: the creator by accident.
NULL_MEANS_NONE: dict[str, tuple[str, ...]] = {"videos": ("creator_id",)}

#: Fields an event needs on top of REQUIRED, by event type.
EVENT_REQUIRED_BY_TYPE: dict[str, tuple[str, ...]] = {
    "watch": ("video_id", "watch_ms"),
    "skip": ("video_id", "watch_ms"),
    "like": ("video_id",),
    "comment": ("video_id",),
    "share": ("video_id",),
    "follow": ("creator_id",),
}

_LANDING_RE = r"(landing/[^/]+/date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/[^/]+)$"
_RAW = "_m"  # the parsed map column
REASON = "_reason"  # "<code>: <detail>", null = accepted
IN_BRONZE = "_in_bronze"  # set by mark_duplicates: the event_id is already in bronze


def split_lines(files: DataFrame) -> DataFrame:
    """One row per landing file (``file_path``, ``value`` = whole text) -> one row per line:
    ``landing_file`` (relative to the lake), ``arrival_hour``, ``line_no`` (1-based), ``raw``.

    Every newline-terminated line is a record (a blank one too: it is quarantined, so the
    landed count, which counts newlines, always equals bronze + quarantine); a final line
    without its newline is a record as well.

    Everything per file (the path's parts, the split into lines, dropping the empty piece after
    the final newline) is computed once per file, before the explode: an expression over
    ``value`` evaluated per exploded line would re-split the whole file for each of its lines
    (quadratic in the file's size).
    """
    value = F.col("value")
    # drop the final newline itself, so split() yields no empty piece after it
    body = F.when(value.endswith("\n"), F.expr("substring(value, 1, length(value) - 1)")).otherwise(
        value
    )
    lines = F.when(value == "", F.array().cast("array<string>")).otherwise(F.split(body, "\n", -1))
    arrival = F.to_timestamp(
        F.concat(
            F.regexp_extract("file_path", _LANDING_RE, 2),
            F.lit(" "),
            F.regexp_extract("file_path", _LANDING_RE, 3),
        ),
        "yyyy-MM-dd HH",
    )
    per_file = files.select(
        F.regexp_extract("file_path", _LANDING_RE, 1).alias("landing_file"),
        arrival.alias("arrival_hour"),
        lines.alias("_lines"),
    )
    # posexplode_outer (an empty file gives one row of nulls, dropped below): the optimizer
    # guards a plain posexplode with filters on the array (size > 0, not null) that it
    # evaluates before the projection, splitting every file two more times
    raw = F.col("raw")
    return (
        per_file.select(
            "landing_file", "arrival_hour", F.posexplode_outer("_lines").alias("_pos", "raw")
        )
        .where(F.col("_pos").isNotNull())
        .select(
            "landing_file",
            "arrival_hour",
            (F.col("_pos") + 1).cast("bigint").alias("line_no"),
            # a CRLF line's "\r" (a plain string test: a regex per line costs more)
            F.when(raw.endswith("\r"), F.expr("substring(raw, 1, length(raw) - 1)"))
            .otherwise(raw)
            .alias("raw"),
        )
    )


def _raw(name: str) -> Column:
    return F.col(_RAW)[name]


def _typed(name: str, typ: str) -> Column:
    if typ == "string":
        return _raw(name)
    if typ == "array<string>":
        return F.from_json(_raw(name), "array<string>")
    return _raw(name).try_cast(typ)


def _missing(name: str) -> Column:
    return _raw(name).isNull() | (F.trim(_raw(name)) == "")


def _absent(name: str) -> Column:
    """Missing unless the record says ``null`` explicitly (``NULL_MEANS_NONE``)."""
    blank = F.coalesce(F.trim(_raw(name)) == "", F.lit(False))
    return ~F.map_contains_key(F.col(_RAW), F.lit(name)) | blank


def _required_missing(entity: str, name: str) -> Column:
    return _absent(name) if name in NULL_MEANS_NONE.get(entity, ()) else _missing(name)


def _mistyped(name: str, typ: str) -> Column:
    if typ == "string":
        return F.lit(False)
    return _raw(name).isNotNull() & (F.trim(_raw(name)) != "") & _typed(name, typ).isNull()


def _reason(code: str, detail: Column) -> Column:
    return F.concat(F.lit(f"{code}: "), detail)


def _listing(names_and_conds: list[tuple[str, Column]]) -> Column:
    return F.concat_ws(", ", *[F.when(cond, F.lit(name)) for name, cond in names_and_conds])


def _any(conds: list[Column]) -> Column:
    out = F.lit(False)
    for cond in conds:
        out = out | cond
    return out


def parse_records(lines: DataFrame, entity: str) -> DataFrame:
    """Lines -> typed columns of ``entity`` plus ``_reason`` for parse/shape problems
    (unparseable JSON, missing required field, unknown event type, mistyped field)."""
    fields = FIELDS[entity]
    parsed = lines.withColumn(_RAW, F.from_json("raw", "map<string,string>"))
    required = REQUIRED[entity]
    conds: list[tuple[Column, Column]] = [
        (F.col(_RAW).isNull(), F.lit(f"{R.UNPARSEABLE_JSON}: not a JSON object")),
        (
            _any([_required_missing(entity, n) for n in required]),
            _reason(
                R.MISSING_FIELD, _listing([(n, _required_missing(entity, n)) for n in required])
            ),
        ),
    ]
    if entity == "events":
        etype = _raw("event_type")
        conds.append(
            (
                ~etype.isin(list(EVENT_TYPES)),
                _reason(R.UNKNOWN_EVENT_TYPE, F.concat(F.lit("'"), etype, F.lit("'"))),
            )
        )
        extra = sorted({f for fs in EVENT_REQUIRED_BY_TYPE.values() for f in fs})
        needs = {
            f: etype.isin([t for t, fs in EVENT_REQUIRED_BY_TYPE.items() if f in fs]) for f in extra
        }
        conds.append(
            (
                _any([needs[f] & _missing(f) for f in extra]),
                _reason(
                    R.MISSING_FIELD,
                    F.concat(
                        _listing([(f, needs[f] & _missing(f)) for f in extra]),
                        F.lit(" (required for "),
                        etype,
                        F.lit(")"),
                    ),
                ),
            )
        )
    mistyped = [(n, _mistyped(n, t)) for n, t in fields.items()]
    conds.append(
        (
            _any([c for _, c in mistyped]),
            _reason(
                R.MISTYPED_FIELD,
                F.concat_ws(
                    ", ",
                    *[
                        F.when(c, F.concat(F.lit(f"{n}="), F.substring(_raw(n), 1, 40)))
                        for n, c in mistyped
                    ],
                ),
            ),
        )
    )
    reason = F.when(conds[0][0], conds[0][1])
    for cond, text in conds[1:]:
        reason = reason.when(cond, text)
    return parsed.select(
        *lines.columns,
        *[_typed(n, t).alias(n) for n, t in fields.items()],
        reason.alias(REASON),
    )


def add_reason(df: DataFrame, cond: Column, text: Column) -> DataFrame:
    """Set ``_reason`` where it is still null and ``cond`` holds (earlier reasons win)."""
    return df.withColumn(
        REASON, F.when(F.col(REASON).isNull() & cond, text).otherwise(F.col(REASON))
    )


def check_event_values(events: DataFrame, future_tolerance_s: int) -> DataFrame:
    """Negative watch time; an event_time after its file's arrival hour ended (+ tolerance)."""
    too_late = F.unix_seconds("event_time") > F.unix_seconds("arrival_hour") + F.lit(
        3600 + future_tolerance_s
    )
    return events.transform(
        add_reason,
        F.col("watch_ms") < 0,
        _reason(R.NEGATIVE_WATCH_MS, F.concat(F.lit("watch_ms="), F.col("watch_ms"))),
    ).transform(
        add_reason,
        too_late,
        _reason(
            R.FUTURE_EVENT_TIME,
            F.concat(
                F.date_format("event_time", "yyyy-MM-dd'T'HH:mm:ss'Z'"),
                F.lit(" is after arrival hour "),
                F.date_format("arrival_hour", "yyyy-MM-dd'T'HH'Z'"),
                F.lit(f" + 1h + {future_tolerance_s}s"),
            ),
        ),
    )


def check_event_references(
    events: DataFrame, users: DataFrame, videos: DataFrame, max_watch_multiple: float
) -> DataFrame:
    """Events whose user, video or followed creator is unknown; watch time absurdly above the
    video's duration. ``users``: ``user_id``; ``videos``: ``video_id, duration_ms`` (all known)."""
    known_users = users.select("user_id").distinct()
    u = known_users.select(F.col("user_id"), F.lit(True).alias("_user_known"))
    c = known_users.select(
        F.col("user_id").alias("creator_id"), F.lit(True).alias("_creator_known")
    )
    v = videos.select(
        "video_id", F.col("duration_ms").alias("_duration_ms"), F.lit(True).alias("_video_known")
    ).dropDuplicates(["video_id"])
    joined = (
        events.join(u, "user_id", "left").join(v, "video_id", "left").join(c, "creator_id", "left")
    )
    is_follow = F.col("event_type") == "follow"
    limit = F.col("_duration_ms") * F.lit(max_watch_multiple)
    out = (
        joined.transform(
            add_reason,
            F.col("_user_known").isNull(),
            _reason(R.UNKNOWN_USER, F.concat(F.lit("user_id="), F.col("user_id"))),
        )
        .transform(
            add_reason,
            ~is_follow & F.col("_video_known").isNull(),
            _reason(R.UNKNOWN_VIDEO, F.concat(F.lit("video_id="), F.col("video_id"))),
        )
        .transform(
            add_reason,
            is_follow & F.col("_creator_known").isNull(),
            _reason(R.UNKNOWN_CREATOR, F.concat(F.lit("creator_id="), F.col("creator_id"))),
        )
        .transform(
            add_reason,
            F.col("event_type").isin("watch", "skip") & (F.col("watch_ms") > limit),
            _reason(
                R.ABSURD_WATCH_MS,
                F.concat(
                    F.lit("watch_ms="),
                    F.col("watch_ms"),
                    F.lit(f" > {max_watch_multiple:g} x duration_ms="),
                    F.col("_duration_ms"),
                ),
            ),
        )
    )
    return out.drop("_user_known", "_creator_known", "_video_known", "_duration_ms")


def mark_duplicates(events: DataFrame, bronze_ids: DataFrame) -> DataFrame:
    """An event_id seen before is a duplicate: already in bronze from another file, or a later
    line (by file path, then line) of the same batch. A replay of the very file bronze took the
    event from is not a duplicate (it is the same record; the MERGE makes it a no-op).
    ``bronze_ids``: ``event_id, landing_file`` of bronze.

    Adds ``_in_bronze`` (``IN_BRONZE``): the event_id is already in bronze, so the bronze MERGE
    can leave the line out (an insert-only MERGE would skip it anyway)."""
    b = bronze_ids.select("event_id", F.col("landing_file").alias("_bronze_file"))
    w = Window.partitionBy("event_id").orderBy(
        F.col(REASON).isNotNull(),  # accepted lines first
        (F.col("landing_file") != F.coalesce(F.col("_bronze_file"), F.lit(""))),
        "landing_file",
        "line_no",
    )
    ranked = events.join(b, "event_id", "left").select(  # one select: one Window, one sort
        "*",
        F.row_number().over(w).alias("_rank"),
        F.first("landing_file").over(w).alias("_first_file"),
    )
    original = (F.col("_rank") == 1) & (
        F.col("_bronze_file").isNull() | (F.col("_bronze_file") == F.col("landing_file"))
    )
    first_file = F.coalesce(F.col("_bronze_file"), F.col("_first_file"))
    return (
        ranked.transform(
            add_reason,
            F.col("event_id").isNotNull() & ~original,
            _reason(
                R.DUPLICATE_EVENT,
                F.concat(
                    F.lit("event_id="), F.col("event_id"), F.lit(" already from "), first_file
                ),
            ),
        )
        .withColumn(IN_BRONZE, F.col("_bronze_file").isNotNull())
        .drop("_bronze_file", "_rank", "_first_file")
    )


def check_dimension_values(records: DataFrame, entity: str) -> DataFrame:
    """Domain checks of dimension records: a video's duration must be positive, and only the
    platform's own records may use the id range it allocates uploads from (``fyplake.ids``)."""
    if entity not in ("videos", "sounds"):
        return records
    key = "video_id" if entity == "videos" else "sound_id"
    reserved = (F.col(key) >= F.lit(PLATFORM_ID_BASE)) & ~F.coalesce(
        F.col("source") == F.lit(PLATFORM_SOURCE), F.lit(False)
    )
    checked = records.transform(
        add_reason,
        reserved,
        _reason(
            R.RESERVED_ID,
            F.concat(
                F.lit(f"{key}="),
                F.col(key),
                F.lit(" is in the range the platform allocates uploads from"),
            ),
        ),
    )
    if entity != "videos":
        return checked
    return checked.transform(
        add_reason,
        F.col("duration_ms") <= 0,
        _reason(R.INVALID_VALUE, F.concat(F.lit("duration_ms="), F.col("duration_ms"))),
    )


def reason_code(reason: Column) -> Column:
    return F.substring_index(reason, ":", 1)
