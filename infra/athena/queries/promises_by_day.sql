-- name: promises_by_day
-- description: Per business date and currency: promises to pay made, kept and broken (each promise counted on the day it was made, kept or broken), the amount promised in minor units, the promise rate (promises made over the right-party contacts that day: calls ending in a conversation or a promise), and of the promises resolved that day the kept rate, the amount they promised and the amount paid on their loans between each promise and its resolution.
-- param: from_date string 2026-01-01 first business date, yyyy-MM-dd (in Athena pass it quoted: '2026-01-01')
-- param: to_date string 2099-12-31 last business date, yyyy-MM-dd
-- param: from_date string 2026-01-01 again (Athena: the same value again): the promises resolved in the range were made at most 90 days before it
-- param: to_date string 2099-12-31 again (Athena: the same value again)
WITH facts AS (
    SELECT DISTINCT fact_id, dt, fact_type, loan_id, action_id, currency, amount_minor, reason,
           from_iso8601_timestamp(occurred_at) AS at
    FROM outcomes
    WHERE fact_type IN ('promise_made', 'promise_kept', 'promise_broken', 'call_outcome', 'repayment_applied')
      AND dt BETWEEN date_format(date_add('day', -90, date_parse(?, '%Y-%m-%d')), '%Y-%m-%d') AND ?
),
resolved AS (  -- each promise resolved, with what was paid on its loan from its making to its resolution
    SELECT r.fact_id, coalesce(sum(p.amount_minor), 0) AS paid_minor
    FROM facts r
    JOIN facts m ON m.fact_type = 'promise_made' AND m.action_id = r.action_id AND m.loan_id = r.loan_id
    LEFT JOIN facts p ON p.fact_type = 'repayment_applied' AND p.loan_id = r.loan_id AND p.at >= m.at AND p.at <= r.at
    WHERE r.fact_type IN ('promise_kept', 'promise_broken')
    GROUP BY r.fact_id
),
days AS (
    SELECT f.dt, f.currency,
           count_if(f.fact_type = 'promise_made') AS made,
           count_if(f.fact_type = 'promise_kept') AS kept,
           count_if(f.fact_type = 'promise_broken') AS broken,
           count_if(f.fact_type = 'call_outcome' AND f.reason IN ('conversation', 'promise')) AS right_party_contacts,
           sum(IF(f.fact_type = 'promise_made', coalesce(f.amount_minor, 0), 0)) AS promised_minor,
           sum(IF(f.fact_type IN ('promise_kept', 'promise_broken'), coalesce(f.amount_minor, 0), 0)) AS resolved_promised_minor,
           coalesce(sum(r.paid_minor), 0) AS resolved_paid_minor
    FROM facts f
    LEFT JOIN resolved r ON r.fact_id = f.fact_id
    WHERE f.dt BETWEEN ? AND ?
    GROUP BY f.dt, f.currency
)
SELECT dt, currency, made, kept, broken, promised_minor,
       IF(right_party_contacts > 0, round(cast(made AS double) / right_party_contacts, 4)) AS promise_rate,
       IF(kept + broken > 0, round(cast(kept AS double) / (kept + broken), 4)) AS kept_rate,
       resolved_promised_minor, resolved_paid_minor
FROM days
WHERE made + kept + broken > 0
ORDER BY dt, currency
