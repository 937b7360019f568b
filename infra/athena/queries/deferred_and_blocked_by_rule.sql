-- name: deferred_and_blocked_by_rule
-- description: Contacts the guard or the dispatcher held back, by business date, channel, kind (blocked for good or deferred to a later time) and rule (the part of the reason before its first colon).
-- param: from_date string 2026-01-01 first business date, yyyy-MM-dd (in Athena pass it quoted: '2026-01-01')
-- param: to_date string 2099-12-31 last business date, yyyy-MM-dd
WITH facts AS (
    SELECT dt, fact_type, channel, reason,
           row_number() OVER (PARTITION BY fact_id ORDER BY occurred_at) AS copy
    FROM outcomes
    WHERE fact_type IN ('action_blocked', 'action_deferred') AND dt BETWEEN ? AND ?
)
SELECT dt, channel,
       CASE fact_type WHEN 'action_blocked' THEN 'blocked' ELSE 'deferred' END AS kind,
       split_part(coalesce(reason, ''), ':', 1) AS rule,
       count(*) AS contacts
FROM facts
WHERE copy = 1
GROUP BY dt, channel, fact_type, split_part(coalesce(reason, ''), ':', 1)
ORDER BY dt, channel, kind, rule
