-- name: agent_performance
-- description: Per team member (agent, from the operations API) and agency, per currency: cases worked, contacts (calls reserved through the guard), right-party contacts (calls ending in conversation or promise), promises and promises kept on the cases the member contacted last, the amount repaid within 7 days of the member's contacts (last touch), complaints (complaint facts, once inbound replies are ingested) and compliance blocks (action_blocked facts naming the member); the rows without agent are the automated channels. An agency appears once escalation records it.
-- param: from_date string 2026-01-01 first business date, yyyy-MM-dd (in Athena pass it quoted: '2026-01-01')
-- param: to_date string 2099-12-31 last business date, yyyy-MM-dd
-- param: from_date string 2026-01-01 again (Athena: the same value again)
-- param: to_date string 2099-12-31 again (Athena: the same value again): repayments read to 8 days after it
WITH facts AS (
    SELECT DISTINCT fact_id, fact_type, loan_id, case_id, action_id, agent, agency, currency, reason, amount_minor,
           from_iso8601_timestamp(occurred_at) AS at
    FROM outcomes
    WHERE dt BETWEEN ? AND ?
),
contacts AS (
    SELECT fact_id, loan_id, case_id, action_id, coalesce(agent, '') AS agent, coalesce(agency, '') AS agency,
           currency, at
    FROM facts WHERE fact_type = 'action_sent'
),
results AS (
    SELECT action_id, max(reason) AS result FROM facts WHERE fact_type = 'call_outcome' GROUP BY action_id
),
paid AS (
    SELECT DISTINCT fact_id, loan_id, amount_minor, from_iso8601_timestamp(occurred_at) AS at
    FROM outcomes
    WHERE fact_type = 'repayment_applied'
      AND dt BETWEEN ? AND date_format(date_add('day', 8, date_parse(?, '%Y-%m-%d')), '%Y-%m-%d')
),
credited AS (
    SELECT action_id, sum(amount_minor) AS amount_minor FROM (
        SELECT c.action_id, p.amount_minor,
               row_number() OVER (PARTITION BY p.fact_id ORDER BY c.at DESC, c.action_id DESC) AS nth
        FROM contacts c
        JOIN paid p ON p.loan_id = c.loan_id AND p.at >= c.at AND p.at < c.at + INTERVAL '7' DAY
    ) WHERE nth = 1 GROUP BY action_id
),
by_case AS (  -- what the contacted cases then did: promises made and kept
    SELECT case_id,
           count_if(fact_type = 'promise_made') AS promises,
           count_if(fact_type = 'promise_kept') AS kept
    FROM facts GROUP BY case_id
),
worked AS (  -- each case credited to the member who contacted it last
    SELECT case_id, agent, agency, currency FROM (
        SELECT case_id, agent, agency, currency,
               row_number() OVER (PARTITION BY case_id ORDER BY at DESC, action_id DESC) AS nth
        FROM contacts WHERE case_id IS NOT NULL
    ) WHERE nth = 1
),
credited_cases AS (
    SELECT w.agent, w.agency, w.currency, sum(b.promises) AS promises, sum(b.kept) AS kept
    FROM worked w JOIN by_case b ON b.case_id = w.case_id
    GROUP BY w.agent, w.agency, w.currency
),
refused AS (  -- the guard's refusals and complaints, told with who asked (none: the automated channels)
    SELECT coalesce(agent, '') AS agent, coalesce(agency, '') AS agency, currency,
           count_if(fact_type = 'action_blocked') AS blocked,
           count_if(fact_type = 'complaint') AS complaints
    FROM facts WHERE fact_type IN ('action_blocked', 'complaint')
    GROUP BY coalesce(agent, ''), coalesce(agency, ''), currency
),
per_member AS (
    SELECT c.agent, c.agency, c.currency,
           count(DISTINCT c.case_id) AS cases_worked,
           count(*) AS contacts,
           count_if(coalesce(r.result IN ('conversation', 'promise'), false)) AS right_party_contacts,
           coalesce(sum(cr.amount_minor), 0) AS repaid_within_7_days_minor
    FROM contacts c
    LEFT JOIN results r ON r.action_id = c.action_id
    LEFT JOIN credited cr ON cr.action_id = c.action_id
    GROUP BY c.agent, c.agency, c.currency
)
SELECT m.agent, m.agency, m.currency, m.cases_worked, m.contacts, m.right_party_contacts,
       round(cast(m.right_party_contacts AS double) / m.contacts, 4) AS right_party_rate,
       coalesce(k.promises, 0) AS promises,
       coalesce(k.kept, 0) AS promises_kept,
       m.repaid_within_7_days_minor,
       coalesce(x.complaints, 0) AS complaints,
       coalesce(x.blocked, 0) AS compliance_blocks
FROM per_member m
LEFT JOIN credited_cases k ON k.agent = m.agent AND k.agency = m.agency AND k.currency = m.currency
LEFT JOIN refused x ON x.agent = m.agent AND x.agency = m.agency AND x.currency = m.currency
ORDER BY m.agent, m.agency, m.currency
