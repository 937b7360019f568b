-- name: imports_by_day
-- description: The files the platform sent, per business date, from the importer's platform_event facts: each file's key, its rows, how many were accepted and rejected, or that it was rejected whole and why (the rejects report beside the file names each row).
-- param: from_date string 2026-01-01 first business date, yyyy-MM-dd (in Athena pass it quoted: '2026-01-01')
-- param: to_date string 2099-12-31 last business date, yyyy-MM-dd
SELECT dt, occurred_at, file,
       cast(nullif(regexp_extract(outcome, '^([0-9]+) of [0-9]+ rows accepted', 1), '') AS bigint) AS accepted,
       cast(nullif(regexp_extract(outcome, '^[0-9]+ of ([0-9]+) rows accepted', 1), '') AS bigint) AS rows,
       cast(nullif(regexp_extract(outcome, ', ([0-9]+) rejected$', 1), '') AS bigint) AS rejected,
       IF(outcome LIKE 'rejected whole: %', substr(outcome, 17)) AS rejected_whole
FROM (
    SELECT fact_id, dt, occurred_at, file, substr(reason, length(file) + 3) AS outcome
    FROM (
        SELECT DISTINCT fact_id, dt, occurred_at, reason,
               coalesce(nullif(regexp_extract(reason, '^(.*?): (rejected whole: |[0-9]+ of [0-9]+ rows accepted)', 1), ''),
                        reason) AS file
        FROM outcomes
        WHERE fact_type = 'platform_event' AND source = 'platform/file' AND dt BETWEEN ? AND ?
    )
)
ORDER BY dt, occurred_at, file
