-- name: vintages
-- description: Vintage curves from the month-end loan_snapshot facts: per disbursement month (vintage), months on book and currency, the loans with a balance, those delinquent (1+ DPD) and 30+ DPD, their balances (minor units) and the 30+ DPD rate (loans 30+ over loans with a balance).
-- param: from_date string 2026-01-01 first business date of the month-end snapshots read, yyyy-MM-dd (in Athena pass it quoted: '2026-01-01')
-- param: to_date string 2099-12-31 last business date of the month-end snapshots read, yyyy-MM-dd
WITH snap AS (
    SELECT DISTINCT fact_id, loan_id, dpd, currency, outstanding_minor, substr(disbursed_on, 1, 7) AS vintage,
           substr(dt, 1, 7) AS month
    FROM outcomes
    WHERE fact_type = 'loan_snapshot' AND disbursed_on IS NOT NULL AND dt BETWEEN ? AND ?
)
SELECT vintage, month,
       date_diff('month', date_parse(vintage || '-01', '%Y-%m-%d'), date_parse(month || '-01', '%Y-%m-%d')) AS months_on_book,
       currency,
       count(*) AS loans_with_balance,
       count_if(dpd >= 1) AS delinquent,
       count_if(dpd > 30) AS dpd_30_plus,
       sum(outstanding_minor) AS balance_minor,
       sum(IF(dpd > 30, outstanding_minor, 0)) AS balance_30_plus_minor,
       round(cast(count_if(dpd > 30) AS double) / count(*), 4) AS dpd_30_plus_rate
FROM snap
GROUP BY vintage, month, currency
ORDER BY vintage, month, currency
