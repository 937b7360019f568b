-- name: arms
-- description: Champion/challenger, as the daily report's arms as of to_date: each case assigned to an arm (its first planned action or escalation with a variant) within the 90 days up to to_date (or the lake's last date), with the amount overdue then; per strategy, arm and currency its loans, contacts, promises, cures, amount recovered since assignment (minor units, net of reversals) and per loan; per arm (on each of its rows) the mean per-loan recovery rate and, for a challenger, its difference to the champion with a 95% confidence interval (Welch's normal approximation).
-- param: to_date string 2099-12-31 the comparison's business date, yyyy-MM-dd, or the last date in the lake when that is earlier (in Athena pass it quoted: '2026-03-31'; finding the last date reads every partition up to it)
-- param: to_date string 2099-12-31 again (Athena: the same value again): the facts read up to it
WITH asof AS (
    SELECT max(dt) AS day FROM outcomes WHERE dt <= ?
),
assigned AS (
    SELECT case_id, loan_id, strategy, variant AS arm, currency, amount_minor AS overdue_minor, occurred_at AS since_at,
           business_date AS since
    FROM (
        SELECT case_id, loan_id, strategy, variant, currency, amount_minor, occurred_at, business_date,
               row_number() OVER (PARTITION BY case_id ORDER BY occurred_at, fact_id) AS nth
        FROM outcomes
        WHERE fact_type IN ('action_planned', 'case_escalated') AND variant IS NOT NULL AND case_id IS NOT NULL
          AND dt <= (SELECT day FROM asof)
    )
    WHERE nth = 1
),
cases AS (  -- the report's window: assigned in the 90 days up to the comparison's date
    SELECT * FROM assigned
    WHERE since >= date_format(date_add('day', -90, date_parse((SELECT day FROM asof), '%Y-%m-%d')), '%Y-%m-%d')
),
facts AS (
    SELECT DISTINCT fact_id, fact_type, loan_id, case_id, reason, from_bucket, bucket, amount_minor, occurred_at,
           business_date
    FROM outcomes
    WHERE fact_type IN ('action_sent', 'promise_made', 'case_closed', 'case_reopened', 'repayment_applied',
                        'repayment_reversed')
      AND dt <= ?
),
linked AS (  -- a fact without a case: the loan's latest case assigned by its day
    SELECT f.fact_id, max_by(a.case_id, a.since_at) AS case_id
    FROM facts f
    JOIN assigned a ON a.loan_id = f.loan_id AND a.since <= f.business_date
    WHERE f.case_id IS NULL
    GROUP BY f.fact_id
),
mapped AS (
    SELECT f.*, coalesce(f.case_id, l.case_id) AS on_case
    FROM facts f
    LEFT JOIN linked l ON l.fact_id = f.fact_id
),
cures AS (  -- a case's closings as cured and its reopenings
    SELECT on_case, occurred_at, fact_type FROM mapped
    WHERE fact_type = 'case_reopened' OR (fact_type = 'case_closed' AND reason = 'cured')
),
counts AS (
    SELECT on_case, count_if(fact_type = 'action_sent') AS contacts, count_if(fact_type = 'promise_made') AS promises
    FROM mapped GROUP BY on_case
),
cured AS (
    SELECT on_case, max_by(fact_type, occurred_at) = 'case_closed' AS cured FROM cures GROUP BY on_case
),
paid AS (  -- repayments while delinquent since assignment, each with the case's last cure event before it
    SELECT m.fact_id, m.on_case, m.amount_minor, max_by(k.fact_type, k.occurred_at) AS state_before
    FROM mapped m
    JOIN cases c ON c.case_id = m.on_case
    LEFT JOIN cures k ON k.on_case = m.on_case AND k.occurred_at < m.occurred_at
    WHERE m.fact_type = 'repayment_applied' AND coalesce(m.from_bucket, 'M0') <> 'M0' AND m.occurred_at >= c.since_at
    GROUP BY m.fact_id, m.on_case, m.amount_minor
),
recovered AS (  -- not once the case was cured; a reversal of a recovered payment takes it back
    SELECT on_case, sum(amount_minor) AS recovered_minor FROM (
        SELECT on_case, amount_minor FROM paid WHERE coalesce(state_before, '') <> 'case_closed'
        UNION ALL
        SELECT on_case, amount_minor FROM mapped
        WHERE fact_type = 'repayment_reversed' AND coalesce(bucket, 'M0') <> 'M0'
    ) GROUP BY on_case
),
per_case AS (
    SELECT c.case_id, c.strategy, c.arm, c.currency, c.overdue_minor,
           coalesce(n.contacts, 0) AS contacts, coalesce(n.promises, 0) AS promises,
           coalesce(k.cured, false) AS cured, coalesce(r.recovered_minor, 0) AS recovered_minor
    FROM cases c
    LEFT JOIN counts n ON n.on_case = c.case_id
    LEFT JOIN cured k ON k.on_case = c.case_id
    LEFT JOIN recovered r ON r.on_case = c.case_id
),
rated AS (
    SELECT *, IF(overdue_minor > 0, cast(recovered_minor AS double) / overdue_minor, 0.0) AS rate FROM per_case
),
arms AS (
    SELECT strategy, arm, count(*) AS n, avg(rate) AS mean, coalesce(var_samp(rate), 0.0) AS var
    FROM rated GROUP BY strategy, arm
)
SELECT r.strategy, r.arm, r.currency,
       count(*) AS loans,
       sum(r.contacts) AS contacts,
       sum(r.promises) AS promises,
       count_if(r.cured) AS cures,
       sum(r.recovered_minor) AS recovered_minor,
       round(cast(sum(r.recovered_minor) AS double) / count(*), 2) AS recovered_per_loan_minor,
       round(a.mean, 4) AS recovery_rate,
       IF(a.arm <> 'champion' AND a.n > 1 AND ch.n > 1, round(a.mean - ch.mean, 4)) AS difference_vs_champion,
       IF(a.arm <> 'champion' AND a.n > 1 AND ch.n > 1,
          round(a.mean - ch.mean - 1.959964 * sqrt(a.var / a.n + ch.var / ch.n), 4)) AS ci95_low,
       IF(a.arm <> 'champion' AND a.n > 1 AND ch.n > 1,
          round(a.mean - ch.mean + 1.959964 * sqrt(a.var / a.n + ch.var / ch.n), 4)) AS ci95_high
FROM rated r
JOIN arms a ON a.strategy = r.strategy AND a.arm = r.arm
LEFT JOIN arms ch ON ch.strategy = r.strategy AND ch.arm = 'champion'
GROUP BY r.strategy, r.arm, r.currency, a.arm, a.mean, a.n, a.var, ch.mean, ch.n, ch.var
ORDER BY r.strategy, r.arm, r.currency
