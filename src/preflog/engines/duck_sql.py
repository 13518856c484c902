"""The SQL of the DuckDB engine's vectorized compile (:mod:`.vectorized`), one statement per step
of the pipeline it stands in for (:mod:`preflog.compile.judgments` and :mod:`preflog.compile.resolve`).

Every statement reads the view ``ev``: the archive's committed rows up to the compile's
watermark. The judgment side becomes table ``j`` (one row per preference, with the reason a
filter drops it), the requests ``r``, the votes on joined requests ``v``, the aggregated pairs
``d`` (with the reason aggregation drops one) and their agreeing votes ``a``; :data:`ROWS` joins
``a`` to the inferences' texts in the pipeline's output order. Ordering and comparisons are on
UTF-8 bytes, which is Python's code-point order for ``str``.
"""

from __future__ import annotations

from typing import Final

# What the pipeline cannot be stood in for on (the pipeline fallback's reasons), counted in one scan.
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
  count(*) FILTER (WHERE type = 'inference' AND NOT starts_with(event, '{') ) AS "unreadable events",
  count(*) FILTER (WHERE type = 'inference' AND (
      event NOT LIKE '%"prompt":"%' OR event LIKE '%"system":%' OR event LIKE '%"messages":%'
      OR event LIKE '%"tool_calls":%' OR event LIKE '%"refusal":%')) AS suspects
FROM ev
"""

# The inferences a quick text search could not clear, checked exactly: a text prompt, no system
# prompt, every candidate one plain text answer (what preflog.records.reply_of gives as a str),
# candidate ids unique. Only these shapes are vectorized.
SHAPES: Final = """
SELECT count(*) FROM (
  SELECT json_transform(event, '{"prompt":"JSON","system":"JSON","candidates":[{"candidate_id":"VARCHAR",
    "messages":"JSON","tool_calls":"JSON","refusal":"JSON"}]}') AS e
  FROM ev
  WHERE type = 'inference' AND (
      event NOT LIKE '%"prompt":"%' OR event LIKE '%"system":%' OR event LIKE '%"messages":%'
      OR event LIKE '%"tool_calls":%' OR event LIKE '%"refusal":%')
)
WHERE (e.prompt IS NOT NULL AND json_type(e.prompt) <> 'VARCHAR') OR e.system IS NOT NULL
   OR len(list_distinct(list_transform(e.candidates, lambda c: c.candidate_id))) <> len(e.candidates)
   OR len(list_filter(e.candidates, lambda c: c.messages IS NOT NULL OR c.refusal IS NOT NULL
        OR (c.tool_calls IS NOT NULL AND json_array_length(c.tool_calls) > 0))) > 0
"""

# Judgment times the pipeline would normalize first (it compares the store's 27-character form).
ODD_TIMES: Final = """
SELECT count(*) FROM j WHERE occurred IS NULL OR length(occurred) <> 27 OR NOT ends_with(occurred, 'Z')
"""

READ_COUNTS: Final = """
SELECT type, count(*) FROM ev
WHERE type IN ('preference', 'score', 'signal', 'retraction', 'erasure', 'inference') GROUP BY type
"""

# Parameters: has sources, sources, has criteria, criteria, since, until (None: unbounded).
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
         coalesce(source_kind, 'unknown') AS source, e.criterion AS criterion, e.occurred_at AS occurred,
         e.strength AS strength, CASE WHEN len(e.presented) > 0 THEN e.presented END AS presented,
         e.occurred_at || lpad(position::VARCHAR, 20, '0') AS latest_key
  FROM (
    SELECT *, json_transform(event,
      '{"criterion":"VARCHAR","occurred_at":"VARCHAR","strength":"JSON","presented":"VARCHAR[]"}') AS e
    FROM ev WHERE type = 'preference'
  )
)
"""

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
# reads them; then the inference's texts, in the pipeline's output order (Draft.key).
ROWS: Final = """
WITH a AS (
  SELECT d.request_id, d.winner, d.loser, d.n, greatest(d.latest, d.inf_pos) AS latest, count(*) AS k,
         arg_max(v.occurred, v.latest_key) AS last_occurred,
         arg_max(v.strength, v.latest_key) AS last_strength,
         arg_max(v.presented, v.latest_key) AS last_presented,
         list_sort(list_distinct(list(v.source))) AS sources,
         CASE WHEN count(DISTINCT v.criterion) + max((v.criterion IS NULL)::INT) = 1
           THEN max(v.criterion) END AS criterion,
         list_sort(list_distinct(list(v.event_id))) AS ids,
         list(v.strength ORDER BY v.position) FILTER (WHERE v.strength IS NOT NULL) AS strengths
  FROM d JOIN v ON v.request_id = d.request_id AND v.winner = d.winner AND v.loser = d.loser AND v.known
  WHERE d.reason IS NULL
  GROUP BY ALL
), i AS (
  SELECT request_id, user_id, json_transform(event, '{"prompt":"VARCHAR","occurred_at":"VARCHAR",
    "presented":"VARCHAR[]","candidates":[{"candidate_id":"VARCHAR","output":"VARCHAR","model":{"name":"VARCHAR"}}]}')
    AS e
  FROM ev WHERE type = 'inference' AND request_id IN (SELECT request_id FROM a)
), t AS (
  SELECT a.*, i.user_id, coalesce(i.e.prompt, '') AS prompt, i.e.occurred_at AS inf_occurred,
         coalesce(a.last_presented, CASE WHEN len(i.e.presented) > 0 THEN i.e.presented END) AS shown,
         list_filter(i.e.candidates, lambda c: c.candidate_id = a.winner)[-1] AS wc,
         list_filter(i.e.candidates, lambda c: c.candidate_id = a.loser)[-1] AS lc
  FROM a JOIN i USING (request_id)
)
SELECT prompt, coalesce(wc.output, '') AS chosen, coalesce(lc.output, '') AS rejected, request_id,
       winner, loser, coalesce(wc.model.name, '') AS chosen_model,
       coalesce(lc.model.name, '') AS rejected_model,
       k, last_strength, strengths, sources, criterion, n, user_id, last_occurred, ids, latest,
       CASE WHEN list_contains(shown, winner) AND list_contains(shown, loser)
         THEN list_position(shown, winner) < list_position(shown, loser) END AS chosen_first
FROM t
ORDER BY inf_occurred, request_id, winner, loser
"""
