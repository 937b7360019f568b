-- name: violations
-- description: Contacts that broke a compliance rule, computed from the raw facts and the rules table (compliance_rules), never from the guard's verdicts: claimed outside the allowed hours in any of the borrower's candidate zones (letters excepted), beyond a daily, 7-day or voice-per-debt cap, on an opted-out channel, under a hold, or after the case was closed (cured or otherwise). Must always return no rows.
-- param: from_date string 2026-01-01 first business date of the contacts checked, yyyy-MM-dd (in Athena pass it quoted: '2026-01-01'); contacts from 8 days before it count against the caps
-- param: to_date string 2099-12-31 last business date of the contacts checked, yyyy-MM-dd
-- param: from_date string 2026-01-01 again (Athena: the same value again)
-- param: to_date string 2099-12-31 again (Athena: the same value again)
-- param: to_date string 2099-12-31 once more: the opt-outs read up to it
-- param: to_date string 2099-12-31 once more: the holds read up to it
-- param: to_date string 2099-12-31 once more: the case closings read up to it
-- param: to_date string 2099-12-31 once more: the case reopenings read up to it
WITH counted AS (
    SELECT DISTINCT fact_id, action_id, loan_id, borrower_id, case_id, channel, occurred_at, zones, jurisdiction, dt
    FROM outcomes
    WHERE fact_type = 'action_sent'
      AND dt BETWEEN date_format(date_add('day', -8, date_parse(?, '%Y-%m-%d')), '%Y-%m-%d') AND ?
),
sent AS (
    SELECT c.fact_id, c.action_id, c.loan_id, c.borrower_id, c.case_id, c.channel, c.occurred_at, c.zones, c.dt,
           from_iso8601_timestamp(c.occurred_at) AS at,
           coalesce(r.jurisdiction, '*') AS rules_of
    FROM counted c
    LEFT JOIN (SELECT DISTINCT jurisdiction FROM compliance_rules) r
      ON r.jurisdiction = upper(split_part(coalesce(c.jurisdiction, ''), '-', 1))
),
zoned AS (
    SELECT s.fact_id, s.action_id, s.loan_id, s.borrower_id, s.case_id, s.channel, s.occurred_at, s.dt, s.at,
           s.rules_of, z.zone, at_timezone(s.at, z.zone) AS local_at
    FROM sent s
    CROSS JOIN UNNEST(split(s.zones, ',')) AS z (zone)
    WHERE s.zones IS NOT NULL
),
checked AS (
    SELECT * FROM sent WHERE dt BETWEEN ? AND ?
),
found AS (
    SELECT 'contact_hours' AS rule, z.fact_id, z.zone || ' ' || lpad(cast(hour(z.local_at) AS varchar), 2, '0') || ':'
           || lpad(cast(minute(z.local_at) AS varchar), 2, '0') || ' outside ' || r.from_time || '-' || r.until_time AS detail
    FROM zoned z
    JOIN compliance_rules r ON r.jurisdiction = z.rules_of AND r.rule = 'contact_hours'
    WHERE z.channel <> 'letter' AND z.fact_id IN (SELECT fact_id FROM checked)
      AND (hour(z.local_at) * 60 + minute(z.local_at)
               < cast(split_part(r.from_time, ':', 1) AS integer) * 60 + cast(split_part(r.from_time, ':', 2) AS integer)
           OR hour(z.local_at) * 60 + minute(z.local_at)
               >= cast(split_part(r.until_time, ':', 1) AS integer) * 60 + cast(split_part(r.until_time, ':', 2) AS integer))
    UNION ALL
    SELECT 'daily_cap', d.fact_id, d.zone || ' ' || cast(d.day AS varchar) || ': contact ' || cast(d.nth AS varchar)
           || ' of the day, cap ' || cast(d.cap AS varchar)
    FROM (
        SELECT z.fact_id, z.zone, date(z.local_at) AS day, r.cap,
               row_number() OVER (PARTITION BY z.borrower_id, z.channel, z.zone, date(z.local_at)
                                  ORDER BY z.at, z.fact_id) AS nth
        FROM zoned z
        JOIN compliance_rules r ON r.jurisdiction = z.rules_of AND r.rule = 'daily_cap' AND r.channel = z.channel
    ) d
    WHERE d.nth > d.cap AND d.fact_id IN (SELECT fact_id FROM checked)
    UNION ALL
    SELECT 'weekly_cap', c.fact_id, 'contact ' || cast(count(*) AS varchar) || ' in 7 days, cap ' || cast(r.cap AS varchar)
    FROM checked c
    JOIN sent e ON e.borrower_id = c.borrower_id AND e.channel = c.channel AND e.at > c.at - INTERVAL '7' DAY
                 AND (e.at < c.at OR (e.at = c.at AND e.fact_id <= c.fact_id))
    JOIN compliance_rules r ON r.jurisdiction = c.rules_of AND r.rule = 'weekly_cap' AND r.channel = c.channel
    GROUP BY c.fact_id, r.cap
    HAVING count(*) > r.cap
    UNION ALL
    SELECT 'voice_attempts_per_debt_7_days', c.fact_id,
           c.zone || ': call ' || cast(count(*) AS varchar) || ' about this debt in 7 days, cap ' || cast(r.cap AS varchar)
    FROM zoned c
    JOIN zoned e ON e.loan_id = c.loan_id AND e.zone = c.zone AND e.channel = 'voice'
                  AND date(e.local_at) BETWEEN date_add('day', -6, date(c.local_at)) AND date(c.local_at)
                  AND (e.at < c.at OR (e.at = c.at AND e.fact_id <= c.fact_id))
    JOIN compliance_rules r ON r.jurisdiction = c.rules_of AND r.rule = 'voice_attempts_per_debt_7_days'
    WHERE c.channel = 'voice' AND c.fact_id IN (SELECT fact_id FROM checked)
    GROUP BY c.fact_id, c.zone, r.cap
    HAVING count(*) > r.cap
    UNION ALL
    SELECT 'opt_out', o.contact, 'opted out by ' || o.source
    FROM (
        SELECT c.fact_id AS contact, x.source, x.fact_type,
               row_number() OVER (PARTITION BY c.fact_id, x.source ORDER BY x.at DESC, x.fact_type DESC) AS nth
        FROM checked c
        JOIN (
            SELECT DISTINCT fact_id, fact_type, borrower_id, channel, source, from_iso8601_timestamp(occurred_at) AS at
            FROM outcomes
            WHERE fact_type IN ('opt_out_placed', 'opt_out_lifted') AND dt <= ?
        ) x ON x.borrower_id = c.borrower_id AND x.channel = c.channel AND x.at < c.at
    ) o
    WHERE o.nth = 1 AND o.fact_type = 'opt_out_placed'
    UNION ALL
    SELECT 'hold', h.contact, h.hold || ' placed by ' || h.source
    FROM (
        SELECT c.fact_id AS contact, x.reason AS hold, x.source, x.fact_type,
               row_number() OVER (PARTITION BY c.fact_id, x.reason, x.source, x.loan_id
                                  ORDER BY x.at DESC, x.fact_type DESC) AS nth
        FROM checked c
        JOIN (
            SELECT DISTINCT fact_id, fact_type, loan_id, borrower_id, reason, source,
                   from_iso8601_timestamp(occurred_at) AS at
            FROM outcomes
            WHERE fact_type IN ('hold_placed', 'hold_lifted') AND dt <= ?
        ) x ON (x.loan_id = c.loan_id OR (x.loan_id IS NULL AND x.borrower_id = c.borrower_id)) AND x.at < c.at
    ) h
    WHERE h.nth = 1 AND h.fact_type = 'hold_placed'
    UNION ALL
    SELECT 'after_case_closed', c.fact_id, 'case closed (' || coalesce(k.reason, '') || ') at ' || k.occurred_at
    FROM checked c
    JOIN (
        SELECT DISTINCT case_id, reason, occurred_at, from_iso8601_timestamp(occurred_at) AS at
        FROM outcomes
        WHERE fact_type = 'case_closed' AND dt <= ?
    ) k ON k.case_id = c.case_id AND k.at < c.at
    WHERE NOT EXISTS (
        SELECT 1 FROM outcomes o
        WHERE o.fact_type = 'case_reopened' AND o.dt <= ? AND o.case_id = c.case_id
          AND from_iso8601_timestamp(o.occurred_at) > k.at AND from_iso8601_timestamp(o.occurred_at) <= c.at
    )
)
SELECT DISTINCT f.rule, s.dt, s.occurred_at, s.fact_id, s.action_id, s.loan_id, s.borrower_id, s.channel, f.detail
FROM found f
JOIN sent s ON s.fact_id = f.fact_id
ORDER BY s.dt, s.occurred_at, f.rule, s.fact_id
