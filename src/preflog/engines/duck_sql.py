"""The SQL of the DuckDB engine's vectorized compile (:mod:`.vectorized`), one statement per step
of the pipeline it stands in for (:mod:`preflog.compile.judgments` and :mod:`preflog.compile.resolve`).

Every statement reads the view ``ev``: the archive's committed rows up to the compile's
watermark. The judgment side becomes table ``j`` (one row per preference, with the reason a
filter drops it), the requests ``r``, the votes on joined requests ``v`` and the aggregated pairs
``d`` (with the reason aggregation drops one); :data:`PAIRS` sums up each decided pair's
agreeing votes and numbers the pairs in the pipeline's output order (table ``fa``, no texts), and
:data:`ROWS` / :data:`TEXT_ROWS` join one bucket of them to the inferences' texts
(:mod:`.buckets`). Ordering and comparisons are on UTF-8 bytes, which is Python's code-point
order for ``str``.

Only typed columns are read (format 2, :mod:`preflog.archive.rows`), never the ``event`` JSON:
decoding every inference's JSON was ~15 s of a 1M + 1M compile.
"""

from __future__ import annotations

from typing import Final

# What the pipeline cannot be stood in for on (the pipeline fallback's reasons), counted in one scan
# of the typed columns.
PROBE: Final = """
SELECT
  count(*) FILTER (WHERE erased OR type = 'erasure') AS "erasures",
  count(*) FILTER (WHERE type = 'retraction') AS "retractions",
  count(*) FILTER (WHERE type = 'score') AS "reward scores",
  count(*) FILTER (WHERE type = 'signal') AS "signals",
  count(*) FILTER (WHERE type = 'preference' AND (chosen IS NULL OR rejected IS NULL OR chosen = rejected))
    AS "rankings or outcomes",
  count(*) FILTER (WHERE type = 'inference') - count(DISTINCT request_id) FILTER (WHERE type = 'inference')
    AS "an inference logged twice for one request",
  -- two ids (the usual inference) compared as they are: list_distinct was 0.25 s of the probe's ~1 s
  -- of CPU at 1M + 1M; a NULL id counts as there (list_distinct drops it)
  count(*) FILTER (WHERE type = 'inference' AND CASE len(candidate_ids)
      WHEN 2 THEN coalesce(candidate_ids[1] = candidate_ids[2], true)
      ELSE len(list_distinct(candidate_ids)) <> len(candidate_ids) END)
    AS "candidate ids logged twice in one inference",
  count(*) FILTER (WHERE type IN ('preference', 'inference') AND occurred_at IS NULL)
    AS "events without a time"
FROM ev
"""

READ_COUNTS: Final = """
SELECT type, count(*) FROM ev
WHERE type IN ('preference', 'score', 'signal', 'retraction', 'erasure', 'inference') GROUP BY type
"""

# The store's normal form of a time (preflog.events.normalize_time), from the typed column:
# microseconds since the epoch, so no time zone setting can shift it.
OCCURRED: Final = "strftime(make_timestamp(epoch_us(occurred_at)), '%Y-%m-%dT%H:%M:%S.%fZ')"

# Parameters: has sources, sources, has criteria, criteria, since, until (None: unbounded).
# ``latest_key`` orders the votes as the pipeline does (time, then position): a row value, which
# took 0.3 s less of CPU at 1M than the string of both it replaced.
JUDGMENTS: Final = """
CREATE TEMP TABLE j AS
SELECT *, CASE
    WHEN $has_sources AND NOT list_contains($sources, source) THEN 'filtered_source'
    WHEN $has_criteria AND (criterion IS NULL OR NOT list_contains($criteria, criterion))
      THEN 'filtered_criterion'
    WHEN occurred < $since OR occurred >= $until THEN 'filtered_time'
  END AS reason
FROM (
  SELECT position, request_id, event_id, chosen AS winner, rejected AS loser,
         coalesce(source_kind, 'unknown') AS source, criterion, occurred,
         strength, CASE WHEN len(presented) > 0 THEN presented END AS presented,
         (occurred, position) AS latest_key
  FROM (SELECT *, OCCURRED AS occurred FROM ev WHERE type = 'preference')
)
""".replace("OCCURRED", OCCURRED)

# Requests with a kept judgment, their inference (if it arrived) and whether --user drops them.
REQUESTS: Final = """
CREATE TEMP TABLE r AS
SELECT k.request_id, k.judgments, i.position AS inf_pos,
       i.position IS NOT NULL AND $has_users AND (i.user_id IS NULL OR NOT list_contains($users, i.user_id))
         AS filtered
FROM (SELECT request_id, count(*) AS judgments FROM j WHERE reason IS NULL GROUP BY request_id) k
LEFT JOIN (SELECT request_id, position, user_id FROM ev WHERE type = 'inference') i USING (request_id)
"""

REQUEST_COUNTS: Final = """
SELECT count(*), count(inf_pos), coalesce(sum(judgments) FILTER (WHERE inf_pos IS NULL), 0),
       coalesce(sum(judgments) FILTER (WHERE filtered), 0)
FROM r
"""

VOTES: Final = """
CREATE TEMP TABLE v AS
SELECT j.*, r.inf_pos,
       list_contains(i.candidate_ids, j.winner) AND list_contains(i.candidate_ids, j.loser) AS known
FROM j
JOIN r ON r.request_id = j.request_id AND r.inf_pos IS NOT NULL AND NOT r.filtered
JOIN (SELECT request_id, candidate_ids FROM ev WHERE type = 'inference') i ON i.request_id = j.request_id
WHERE j.reason IS NULL
"""

# One row per (request, candidate pair): its decision under $rule, or the reason it is dropped
# (preflog.compile.resolve.aggregate_votes; these votes are never ties).
DECISIONS: Final = """
CREATE TEMP TABLE d AS
WITH g AS (
  SELECT request_id, least(winner, loser) AS x, greatest(winner, loser) AS y, count(*) AS n,
         count(*) FILTER (WHERE winner < loser) AS n_xy, max(position) AS latest, max(inf_pos) AS inf_pos,
         arg_max(winner, latest_key) AS last_winner
  FROM v WHERE known GROUP BY ALL
), w AS (
  SELECT *, CASE
      WHEN n = 1 OR $rule = 'latest' THEN last_winner
      WHEN $rule = 'unanimous' THEN CASE WHEN n_xy = n THEN x WHEN n_xy = 0 THEN y END
      ELSE CASE WHEN n_xy > n - n_xy THEN x WHEN n_xy < n - n_xy THEN y END
    END AS winner
  FROM g
)
SELECT request_id, winner, CASE WHEN winner = x THEN y ELSE x END AS loser, n, latest, inf_pos,
  CASE
    WHEN winner IS NULL THEN CASE WHEN $rule = 'unanimous' THEN 'not_unanimous' ELSE 'no_majority' END
    WHEN n > 1 AND $rule = 'majority' AND greatest(n_xy, n - n_xy)::DOUBLE / n < $min_agreement
      THEN 'low_agreement'
  END AS reason
FROM w
"""

# The agreeing votes of each decided pair, summed up as preflog.compile.resolve._Request.pair_draft
# reads them (table ``fa``, no texts): each with its inference's position and ``ord``, its place
# in the pipeline's output order (Draft.key: inference time, request, winner, loser). Sorting
# these small rows instead of the rows with their texts kept DuckDB's sort in memory: the texts
# (1.1 GB at 1M pairs) were spilled past memory_limit, 19 s of a 1M + 1M compile.
PAIRS: Final = """
CREATE TEMP TABLE fa AS
WITH agreeing AS (
  SELECT d.request_id, d.winner, d.loser, d.n, greatest(d.latest, d.inf_pos) AS latest, v.position,
         v.event_id, v.source, v.criterion, v.occurred, v.strength, v.presented, v.latest_key
  FROM d JOIN v ON v.request_id = d.request_id AND v.winner = d.winner AND v.loser = d.loser AND v.known
  WHERE d.reason IS NULL
), a AS (
  -- a pair of one vote (most pairs): that vote's own fields; the aggregation below took 9.9 s of a
  -- 1M + 1M compile when every pair went through it
  SELECT request_id, winner, loser, n, latest, 1::BIGINT AS k, occurred AS last_occurred,
         strength AS last_strength, presented AS last_presented, [source] AS sources, criterion,
         [event_id] AS ids, CASE WHEN strength IS NOT NULL THEN [strength] END AS strengths
  FROM agreeing WHERE n = 1
  UNION ALL
  SELECT request_id, winner, loser, n, latest, count(*) AS k,
         arg_max(occurred, latest_key) AS last_occurred,
         -- arg_max skips a NULL argument: the latest vote's own (maybe missing) strength and order
         arg_max_null(strength, latest_key) AS last_strength,
         arg_max_null(presented, latest_key) AS last_presented,
         list_sort(list_distinct(list(source))) AS sources,
         CASE WHEN count(DISTINCT criterion) + max((criterion IS NULL)::INT) = 1
           THEN max(criterion) END AS criterion,
         list_sort(list_distinct(list(event_id))) AS ids,
         list(strength ORDER BY position) FILTER (WHERE strength IS NOT NULL) AS strengths
  FROM agreeing WHERE n > 1
  GROUP BY request_id, winner, loser, n, latest
), k AS (
  -- the window sorts the keys alone, not every column of the pairs (~1 s of its ~2.5 s at 1M)
  SELECT a.request_id, a.winner, a.loser, i.position AS inf_pos,
         row_number() OVER (ORDER BY i.inf_occurred, a.request_id, a.winner, a.loser) - 1 AS ord
  FROM a JOIN (SELECT request_id, position, OCCURRED AS inf_occurred FROM ev WHERE type = 'inference') i
    USING (request_id)
)
SELECT a.*, k.inf_pos, k.ord FROM a JOIN k USING (request_id, winner, loser)
""".replace("OCCURRED", OCCURRED)

# The tables no later statement reads, dropped as soon as they are done with: held to the end,
# j, r, v and d (~600 MB at 1M + 1M) pushed 274–308 MB of themselves out to the temporary
# directory while PAIRS ran. Dropped: 10–13% fewer page faults and ~80 MB less peak in 12 pairs
# alternated at 1M + 1M, the CPU not distinguishable on this VM.
DONE_WITH_JUDGMENTS: Final = "DROP TABLE j; DROP TABLE r"
DONE_WITH_VOTES: Final = "DROP TABLE v; DROP TABLE d"

# Per run of ``ord`` (bucket), the inferences' positions it reads: a bucket whose inferences lie
# in a narrow position range lets the Parquet scan skip the other row groups.
BUCKETS: Final = """
SELECT ord // $rows AS bucket, min(ord), max(ord), min(inf_pos), max(inf_pos) FROM fa GROUP BY ALL ORDER BY 1
"""

# The final rows' key for deduplication (engines.dedupe): a UBIGINT, a Python int (a HUGEINT came
# to Python as a Decimal: 5.4 s of deduplication at 1M).
TRIPLE_HASH: Final = "hash(prompt, chosen, rejected)"
# The pairs of ``fa`` (THE_PAIRS: those with ``ord`` in [{first}, {last}]) joined to their
# inferences' texts (the archive's typed text columns; ``beyond_text``: not ``text_only``, then the
# pipeline runs), read only from positions [{low}, {high}] and streamed in output order. ``texts``
# is a 64-bit hash of the prompt and the two texts, for deduplication (engines.dedupe).
_FINAL: Final = """
WITH i AS (
  SELECT request_id, user_id, candidate_ids, models, text_only, prompt_text, outputs, presented,
         OCCURRED AS inf_occurred
  FROM ev WHERE type = 'inference' AND position BETWEEN {low} AND {high}
), t AS (
  SELECT a.*, i.user_id, i.models, i.text_only, coalesce(i.prompt_text, '') AS prompt, i.inf_occurred,
         coalesce(a.last_presented, CASE WHEN len(i.presented) > 0 THEN i.presented END) AS shown,
         i.outputs,
         list_position(i.candidate_ids, a.winner) AS w, list_position(i.candidate_ids, a.loser) AS l
  FROM (THE_PAIRS) a JOIN i USING (request_id)
)
SELECT prompt, chosen, rejected, request_id, winner, loser, coalesce(models[w], '') AS chosen_model,
       coalesce(models[l], '') AS rejected_model,
       k, last_strength, strengths, sources, criterion, n, user_id, last_occurred, ids, latest,
       CASE WHEN list_contains(shown, winner) AND list_contains(shown, loser)
         THEN list_position(shown, winner) < list_position(shown, loser) END AS chosen_first,
       inf_occurred,
       TRIPLE_HASH AS texts,
       NOT coalesce(text_only, false) AS beyond_text, ord
FROM (SELECT *, coalesce(outputs[w], '') AS chosen, coalesce(outputs[l], '') AS rejected FROM t)
""".replace("OCCURRED", OCCURRED).replace("TRIPLE_HASH", TRIPLE_HASH)
FINAL: Final = _FINAL.replace("THE_PAIRS", "SELECT * FROM fa WHERE ord BETWEEN {first} AND {last}")
ROWS: Final = FINAL + "ORDER BY ord"

# How many rows dropped as duplicates (table ``repeats``: ``later``, dropped as a duplicate of
# ``first`` for their one hash; engines.dedupe) have other texts than their first row. The texts
# are read as FINAL reads them, only when a hash repeated: the first rows' into the join's table,
# the later rows' streamed past it (2.1 s of CPU for 300,000 repeats at 1M, 1.6 s for 1,000; 7.5 s
# for 300,000 when FINAL's rows of both were one table joined to itself).
_TEXTS_AT: Final = """
  SELECT {key}, coalesce(i.prompt_text, '') AS prompt,
         coalesce(i.outputs[list_position(i.candidate_ids, a.winner)], '') AS chosen,
         coalesce(i.outputs[list_position(i.candidate_ids, a.loser)], '') AS rejected
  FROM {rows} JOIN (SELECT position, candidate_ids, prompt_text, outputs FROM ev WHERE type = 'inference') i
    ON i.position = a.inf_pos
"""
_FIRSTS: Final = "(SELECT * FROM fa WHERE ord IN (SELECT first FROM repeats)) a"
VERIFY: Final = f"""
WITH f AS ({_TEXTS_AT.format(key="a.ord", rows=_FIRSTS)}
), l AS ({_TEXTS_AT.format(key="r.first", rows="repeats r JOIN fa a ON a.ord = r.later")}
)
SELECT count(*) FROM l JOIN f ON f.ord = l.first
WHERE f.prompt <> l.prompt OR f.chosen <> l.chosen OR f.rejected <> l.rejected
"""

# What a standard file of text pairs needs of each final row (engines.text_lines): its JSON line
# ``{line}`` and whether json_line must write it instead (``{rare}``, of ``line``; both
# engines.sql_lines), whether each text holds a printable ASCII character (then it is not blank),
# and a text itself only where Python must look at it (every prompt if ``{all_prompts}``: the split
# digests them). The sort carries no ids, lists of votes or times.
TEXT_ROWS: Final = f"""
SELECT line, rare, prompt_printable, chosen_printable, rejected_printable, identical,
       CASE WHEN {{all_prompts}} OR rare OR NOT prompt_printable THEN prompt END AS prompt_text,
       CASE WHEN rare OR NOT chosen_printable THEN chosen END AS chosen_text,
       CASE WHEN rare OR NOT rejected_printable THEN rejected END AS rejected_text,
       request_id, chosen_model, rejected_model, sources, latest, texts, beyond_text, ord
FROM (
  SELECT *, {{rare}} AS rare FROM (
    SELECT {{line}} AS line, regexp_matches(prompt, '[!-~]') AS prompt_printable,
           regexp_matches(chosen, '[!-~]') AS chosen_printable,
           regexp_matches(rejected, '[!-~]') AS rejected_printable, chosen = rejected AS identical, *
    FROM ({FINAL})
  )
) ORDER BY ord
"""
