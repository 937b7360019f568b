-- name: imports_by_day
-- description: The files the platform sent, per business date, from the importer's platform_event facts: each file's key, its rows, how many were accepted and rejected, or that it was rejected whole and why (the rejects report beside the file names each row).
-- param: from_date string 2026-01-01 first business date, yyyy-MM-dd (in Athena pass it quoted: '2026-01-01')
-- param: to_date string 2099-12-31 last business date, yyyy-MM-dd
SELECT dt, occurred_at, file,
       cast(regexp_extract(outcome, '^([0-9]+) of [0-9]+ rows accepted', 1) AS bigint) AS accepted,
       cast(regexp_extract(outcome, '^[0-9]+ of ([0-9]+) rows accepted', 1) AS bigint) AS rows,
       cast(regexp_extract(outcome, ', ([0-9]+) rejected$', 1) AS bigint) AS rejected,
       IF(outcome LIKE 'rejected whole%', substr(outcome, 17)) AS rejected_whole
FROM (
    SELECT DISTINCT fact_id, dt, occurred_at, split_part(reason, ': ', 1) AS file,
           substr(reason, length(split_part(reason, ': ', 1)) + 3) AS outcome
    FROM outcomes
    WHERE fact_type = 'platform_event' AND source = 'platform/file' AND dt BETWEEN ? AND ?
)
ORDER BY dt, occurred_at, file
