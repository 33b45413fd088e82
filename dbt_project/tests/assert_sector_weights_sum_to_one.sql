{{ config(meta={'dagster': {'ref': {'name': 'gold_portfolio_analytics'}}}) }}
{#- Sector exposures of a portfolio-day cover its whole NAV (cash is a sector of its own). -#}
select as_of_date, portfolio_id, sum(weight) as total_weight
from {{ ref('gold_portfolio_analytics') }}
where measure = 'sector_exposure' and {{ in_window('as_of_date') }}
group by as_of_date, portfolio_id
having abs(sum(weight) - 1) > 0.000001
