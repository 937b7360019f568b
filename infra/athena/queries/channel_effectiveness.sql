-- name: channel_effectiveness
-- description: Per channel, step (the template or contact flow) and currency, for contacts sent in the date range: contacts, loans contacted, calls that ended in a promise, contacts followed by a repayment on the loan within 7 days, and the amount repaid within 7 days of a contact credited to the last contact before each payment (last touch), in minor units.
-- param: from_date string 2026-01-01 first business date of the contacts, yyyy-MM-dd (in Athena pass it quoted: '2026-01-01')
-- param: to_date string 2099-12-31 last business date of the contacts, yyyy-MM-dd
-- param: from_date string 2026-01-01 again (Athena: pass the same value again), bounding the repayments and call results read
-- param: to_date string 2099-12-31 again (Athena: pass the same value again), bounding the repayments read to 7 days after it
-- param: from_date string 2026-01-01 once more (Athena: the same value a third time), bounding the call results read
WITH sent AS (
    SELECT DISTINCT fact_id, action_id, loan_id, channel, step, currency,
           from_iso8601_timestamp(occurred_at) AS at
    FROM outcomes
    WHERE fact_type = 'action_sent' AND dt BETWEEN ? AND ?
),
paid AS (
    SELECT DISTINCT fact_id, loan_id, amount_minor, from_iso8601_timestamp(occurred_at) AS at
    FROM outcomes
    WHERE fact_type = 'repayment_applied'
      AND dt BETWEEN ? AND date_format(date_add('day', 8, date_parse(?, '%Y-%m-%d')), '%Y-%m-%d')
),
followed AS (
    SELECT s.action_id, p.fact_id AS payment, p.amount_minor,
           row_number() OVER (PARTITION BY p.fact_id ORDER BY s.at DESC, s.action_id DESC) AS nth
    FROM sent s
    JOIN paid p ON p.loan_id = s.loan_id AND p.at >= s.at AND p.at < s.at + INTERVAL '7' DAY
),
credited AS (
    SELECT action_id, sum(amount_minor) AS amount_minor FROM followed WHERE nth = 1 GROUP BY action_id
),
promised AS (
    SELECT DISTINCT action_id FROM outcomes
    WHERE fact_type = 'call_outcome' AND reason = 'promise' AND dt >= ?
)
SELECT s.channel, s.step, s.currency,
       count(*) AS contacts,
       count(DISTINCT s.loan_id) AS loans,
       count(pr.action_id) AS promises,
       count_if(s.action_id IN (SELECT action_id FROM followed)) AS followed_by_payment,
       coalesce(sum(c.amount_minor), 0) AS repaid_within_7_days_minor
FROM sent s
LEFT JOIN credited c ON c.action_id = s.action_id
LEFT JOIN promised pr ON pr.action_id = s.action_id
GROUP BY s.channel, s.step, s.currency
ORDER BY s.channel, s.step, s.currency
