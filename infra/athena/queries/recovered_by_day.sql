-- name: recovered_by_day
-- description: Each business date's money by currency, in minor units and net of reversals: repaid (every applied repayment), recovered (repaid on a loan that was delinquent when it paid) and reversed (negative).
-- param: from_date string 2026-01-01 first business date, yyyy-MM-dd (in Athena pass it quoted: '2026-01-01')
-- param: to_date string 2099-12-31 last business date, yyyy-MM-dd
WITH facts AS (
    SELECT dt, fact_type, currency, from_bucket, bucket, coalesce(amount_minor, 0) AS amount_minor,
           row_number() OVER (PARTITION BY fact_id ORDER BY occurred_at) AS copy
    FROM outcomes
    WHERE fact_type IN ('repayment_applied', 'repayment_reversed') AND dt BETWEEN ? AND ?
)
SELECT dt, currency,
       sum(amount_minor) AS repaid_minor,
       sum(CASE
               WHEN fact_type = 'repayment_applied' AND from_bucket IS NOT NULL AND from_bucket <> 'M0' THEN amount_minor
               WHEN fact_type = 'repayment_reversed' AND bucket IS NOT NULL AND bucket <> 'M0' THEN amount_minor
               ELSE 0
           END) AS recovered_minor,
       sum(CASE WHEN fact_type = 'repayment_reversed' THEN amount_minor ELSE 0 END) AS reversed_minor
FROM facts
WHERE copy = 1
GROUP BY dt, currency
ORDER BY dt, currency
