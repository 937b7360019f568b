-- name: channel_effectiveness
-- description: Per channel, step (the template or contact flow) and currency, for contacts sent in the date range: contacts (attempts), loans contacted, delivered or connected (messages: accepted by the provider, as delivery receipts are not ingested yet; calls: answered), right-party contacts (calls ending in a conversation or a promise), calls that ended in a promise, contacts followed by a repayment on the loan within 7 days, the amount repaid within 7 days of a contact credited to the last contact before each payment (last touch, minor units), the contacts' cost (cost_micros: millionths of the currency), the amount repaid per contact and per unit of cost (minor units repaid per 1 unit of the currency spent).
-- param: from_date string 2026-01-01 first business date of the contacts, yyyy-MM-dd (in Athena pass it quoted: '2026-01-01')
-- param: to_date string 2099-12-31 last business date of the contacts, yyyy-MM-dd
-- param: from_date string 2026-01-01 again (Athena: pass the same value again), bounding the repayments and call results read
-- param: to_date string 2099-12-31 again (Athena: pass the same value again), bounding the repayments read to 7 days after it
-- param: from_date string 2026-01-01 once more (Athena: the same value a third time), bounding the call results read
WITH sent AS (
    SELECT DISTINCT fact_id, action_id, loan_id, channel, step, currency, cost_micros,
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
results AS (
    SELECT action_id, max(reason) AS result FROM outcomes
    WHERE fact_type = 'call_outcome' AND dt >= ?
    GROUP BY action_id
),
per_group AS (
    SELECT s.channel, s.step, s.currency,
           count(*) AS contacts,
           count(DISTINCT s.loan_id) AS loans,
           count_if(coalesce(IF(s.channel = 'voice', r.result IN ('connected', 'conversation', 'promise'), true), false))
               AS delivered_or_connected,
           count_if(coalesce(r.result IN ('conversation', 'promise'), false)) AS right_party_contacts,
           count_if(coalesce(r.result = 'promise', false)) AS promises,
           count_if(s.action_id IN (SELECT action_id FROM followed)) AS followed_by_payment,
           coalesce(sum(c.amount_minor), 0) AS repaid_within_7_days_minor,
           sum(s.cost_micros) AS cost_micros
    FROM sent s
    LEFT JOIN credited c ON c.action_id = s.action_id
    LEFT JOIN results r ON r.action_id = s.action_id
    GROUP BY s.channel, s.step, s.currency
)
SELECT channel, step, currency, contacts, loans, delivered_or_connected, right_party_contacts, promises,
       followed_by_payment, repaid_within_7_days_minor, cost_micros,
       round(cast(repaid_within_7_days_minor AS double) / contacts, 2) AS repaid_per_contact_minor,
       IF(cost_micros > 0, round(repaid_within_7_days_minor * 1e6 / cost_micros, 2)) AS repaid_minor_per_unit_cost
FROM per_group
ORDER BY channel, step, currency
