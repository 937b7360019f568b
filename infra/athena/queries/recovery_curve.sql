-- name: recovery_curve
-- description: The recovery curve per bucket and currency: of the amount overdue when loans entered the bucket (bucket_entered), the share recovered by each day since entry (repayments on the loan, net of reversals, each entry's recovery capped at its amount overdue). An entry counts on a day only once that day has passed in the lake (no right-censored zeros).
-- param: from_date string 2026-01-01 first business date of the bucket entries, yyyy-MM-dd (in Athena pass it quoted: '2026-01-01')
-- param: to_date string 2099-12-31 last business date of the bucket entries, yyyy-MM-dd
-- param: days int 90 the days since entry the curve runs to
-- param: from_date string 2026-01-01 again (Athena: the same value again): the repayments read start there
-- param: from_date string 2026-01-01 once more: the lake's last instant is read from there
WITH entries AS (
    SELECT DISTINCT fact_id, loan_id, bucket, currency, amount_minor AS overdue_minor,
           from_iso8601_timestamp(occurred_at) AS at
    FROM outcomes
    WHERE fact_type = 'bucket_entered' AND amount_minor > 0 AND dt BETWEEN ? AND ?
),
days AS (
    SELECT day FROM UNNEST(sequence(1, ?)) AS t (day)
),
paid AS (
    SELECT DISTINCT fact_id, loan_id, amount_minor, from_iso8601_timestamp(occurred_at) AS at
    FROM outcomes
    WHERE fact_type IN ('repayment_applied', 'repayment_reversed') AND dt >= ?
),
horizon AS (
    SELECT max(from_iso8601_timestamp(occurred_at)) AS last_at FROM outcomes WHERE dt >= ?
),
per_entry AS (
    SELECT e.fact_id, e.bucket, e.currency, e.overdue_minor, d.day,
           least(e.overdue_minor, greatest(0, coalesce(sum(p.amount_minor), 0))) AS recovered_minor
    FROM entries e
    CROSS JOIN days d
    CROSS JOIN horizon h
    LEFT JOIN paid p ON p.loan_id = e.loan_id AND p.at >= e.at AND p.at < date_add('day', d.day, e.at)
    WHERE date_add('day', d.day, e.at) <= h.last_at
    GROUP BY e.fact_id, e.bucket, e.currency, e.overdue_minor, d.day
)
SELECT bucket, currency, day,
       count(*) AS entries,
       sum(overdue_minor) AS overdue_minor,
       sum(recovered_minor) AS recovered_minor,
       round(cast(sum(recovered_minor) AS double) / sum(overdue_minor), 4) AS recovered_share
FROM per_entry
GROUP BY bucket, currency, day
ORDER BY bucket, currency, day
