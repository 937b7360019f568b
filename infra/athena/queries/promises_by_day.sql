-- name: promises_by_day
-- description: Per business date and currency: promises to pay made, kept and broken (each promise counted on the day it was made, kept or broken), the amount promised in minor units, and the kept rate of the promises resolved that day.
-- param: from_date string 2026-01-01 first business date, yyyy-MM-dd (in Athena pass it quoted: '2026-01-01')
-- param: to_date string 2099-12-31 last business date, yyyy-MM-dd
WITH facts AS (
    SELECT DISTINCT fact_id, dt, fact_type, currency, amount_minor
    FROM outcomes
    WHERE fact_type IN ('promise_made', 'promise_kept', 'promise_broken') AND dt BETWEEN ? AND ?
)
SELECT dt, currency,
       count_if(fact_type = 'promise_made') AS made,
       count_if(fact_type = 'promise_kept') AS kept,
       count_if(fact_type = 'promise_broken') AS broken,
       sum(CASE WHEN fact_type = 'promise_made' THEN coalesce(amount_minor, 0) ELSE 0 END) AS promised_minor,
       CASE
           WHEN count_if(fact_type IN ('promise_kept', 'promise_broken')) = 0 THEN NULL
           ELSE round(CAST(count_if(fact_type = 'promise_kept') AS double)
                      / count_if(fact_type IN ('promise_kept', 'promise_broken')), 4)
       END AS kept_rate
FROM facts
GROUP BY dt, currency
ORDER BY dt, currency
