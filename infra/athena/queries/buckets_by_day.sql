-- name: buckets_by_day
-- description: Each business date's delinquent book by bucket and currency, from each loan's last evaluation that day: loans, balance and amount overdue in minor units (the daily report's loans, balance and overdue by bucket).
-- param: from_date string 2026-01-01 first business date, yyyy-MM-dd (in Athena pass it quoted: '2026-01-01')
-- param: to_date string 2099-12-31 last business date, yyyy-MM-dd
WITH evaluated AS (
    SELECT dt, loan_id, bucket, currency, outstanding_minor, amount_minor,
           row_number() OVER (PARTITION BY dt, loan_id ORDER BY from_iso8601_timestamp(occurred_at) DESC, fact_id) AS latest
    FROM outcomes
    WHERE fact_type = 'loan_evaluated' AND dt BETWEEN ? AND ?
)
SELECT dt, bucket, currency,
       count(*) AS loans,
       sum(coalesce(outstanding_minor, 0)) AS balance_minor,
       sum(coalesce(amount_minor, 0)) AS overdue_minor
FROM evaluated
WHERE latest = 1 AND bucket <> 'M0'
GROUP BY dt, bucket, currency
ORDER BY dt, bucket, currency
