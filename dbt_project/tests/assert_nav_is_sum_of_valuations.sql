{{ config(meta={'dagster': {'ref': {'name': 'gold_nav_history'}}}) }}
{#- NAV of a portfolio-day equals the market value of its valued positions (cash included). -#}
with valued as (
    select as_of_date, portfolio_id, sum(market_value) as market_value
    from {{ ref('gold_valuations') }}
    where {{ in_window('as_of_date') }}
    group by as_of_date, portfolio_id
)
select n.as_of_date, n.portfolio_id, n.nav, v.market_value
from {{ ref('gold_nav_history') }} as n
left join valued as v on v.as_of_date = n.as_of_date and v.portfolio_id = n.portfolio_id
where {{ in_window('n.as_of_date') }}
    and abs(n.nav - coalesce(v.market_value, 0)) > 0.01
