-- name: daily_overview
-- description: Each business date's flow: cases newly overdue, cured and reopened; actions planned, sent, cancelled, blocked and deferred; repayments and reversals applied (the daily report's counts).
-- param: from_date string 2026-01-01 first business date, yyyy-MM-dd (in Athena pass it quoted: '2026-01-01')
-- param: to_date string 2099-12-31 last business date, yyyy-MM-dd
WITH facts AS (
    SELECT fact_type, reason, dt,
           row_number() OVER (PARTITION BY fact_id ORDER BY occurred_at) AS copy
    FROM outcomes
    WHERE dt BETWEEN ? AND ?
)
SELECT dt,
       count_if(fact_type = 'case_opened') AS newly_overdue,
       count_if(fact_type = 'case_closed' AND reason = 'cured') AS cured,
       count_if(fact_type = 'case_reopened') AS reopened,
       count_if(fact_type = 'action_planned') AS planned,
       count_if(fact_type = 'action_sent') AS sent,
       count_if(fact_type = 'action_cancelled') AS cancelled,
       count_if(fact_type = 'action_blocked') AS blocked,
       count_if(fact_type = 'action_deferred') AS deferred,
       count_if(fact_type = 'promise_made') AS promises_made,
       count_if(fact_type = 'promise_kept') AS promises_kept,
       count_if(fact_type = 'promise_broken') AS promises_broken,
       count_if(fact_type = 'repayment_applied') AS repayments,
       count_if(fact_type = 'repayment_reversed') AS reversals
FROM facts
WHERE copy = 1
GROUP BY dt
ORDER BY dt
