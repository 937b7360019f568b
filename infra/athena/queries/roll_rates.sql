-- name: roll_rates
-- description: Month over month, from each month-end's loan_snapshot to the next calendar month's, per currency: loans and balance (minor units, at the first month end) moving from each bucket to each bucket, the movement (forward, back, stay; cured: from a delinquent bucket to M0 or paid off; paid_off: from M0 to no balance; write_off: entering the last bucket, until escalation defines write-off) and the share of the from-bucket's loans. Buckets are ordered by the number in their name (M0, M1, ..., M6, M6+).
-- param: from_date string 2026-01-01 first business date of the month-end snapshots read, yyyy-MM-dd (in Athena pass it quoted: '2026-01-01')
-- param: to_date string 2099-12-31 last business date of the month-end snapshots read, yyyy-MM-dd
-- param: last_bucket string M6+ the last bucket: entering it counts as write-off
WITH snap AS (
    SELECT loan_id, month, bucket, currency, outstanding_minor,
           cast(nullif(regexp_extract(bucket, '[0-9]+'), '') AS integer) + IF(bucket LIKE '%+', 1, 0) AS rank
    FROM (
        SELECT DISTINCT fact_id, loan_id, bucket, currency, outstanding_minor, substr(dt, 1, 7) AS month
        FROM outcomes
        WHERE fact_type = 'loan_snapshot' AND dt BETWEEN ? AND ?
    )
),
moves AS (
    SELECT s.month AS from_month, nm.month AS to_month, s.currency, s.bucket AS from_bucket, s.outstanding_minor,
           coalesce(n.bucket, 'paid_off') AS to_bucket,
           CASE
               WHEN n.bucket IS NULL AND s.rank > 0 THEN 'cured'
               WHEN n.bucket IS NULL THEN 'paid_off'
               WHEN n.rank = 0 AND s.rank > 0 THEN 'cured'
               WHEN n.bucket = p.last_bucket AND s.bucket <> p.last_bucket THEN 'write_off'
               WHEN n.rank > s.rank THEN 'forward'
               WHEN n.rank < s.rank THEN 'back'
               ELSE 'stay'
           END AS movement
    FROM snap s
    JOIN (SELECT DISTINCT month FROM snap) nm
      ON nm.month = date_format(date_add('month', 1, date_parse(s.month || '-01', '%Y-%m-%d')), '%Y-%m')
    LEFT JOIN snap n ON n.month = nm.month AND n.loan_id = s.loan_id
    CROSS JOIN (SELECT ? AS last_bucket) p
)
SELECT from_month, from_bucket, to_month, to_bucket, currency, movement,
       count(*) AS loans,
       sum(outstanding_minor) AS balance_minor,
       round(cast(count(*) AS double) / sum(count(*)) OVER (PARTITION BY from_month, currency, from_bucket), 4) AS share
FROM moves
GROUP BY from_month, from_bucket, to_month, to_bucket, currency, movement
ORDER BY from_month, currency, from_bucket, to_bucket
