{{ daily_config('as_of_date', ['as_of_date', 'portfolio_id', 'measure', 'bucket']) }}
{#- Portfolio analytics per trading day, one row per measure and bucket:
    sector_exposure / currency_exposure (weight of NAV per sector or currency, cash included),
    top_holding (the ten largest non-cash positions, ranked), turnover (the lesser of the day's
    purchases and sales over NAV). -#}
with valued as (
    select v.*, n.nav
    from {{ ref('gold_valuations') }} as v
    inner join {{ ref('gold_nav_history') }} as n on n.as_of_date = v.as_of_date and n.portfolio_id = v.portfolio_id
    where {{ in_window('v.as_of_date') }} and {{ in_window('n.as_of_date') }} and n.nav > 0
),
exposures as (
    select as_of_date, portfolio_id, 'sector_exposure' as measure, sector as bucket, cast(null as integer) as rank,
           sum(market_value) as market_value, sum(market_value) / max(nav) as weight
    from valued
    group by as_of_date, portfolio_id, sector
    union all
    select as_of_date, portfolio_id, 'currency_exposure' as measure, currency as bucket, cast(null as integer) as rank,
           sum(market_value) as market_value, sum(market_value) / max(nav) as weight
    from valued
    group by as_of_date, portfolio_id, currency
),
holdings_ranked as (
    select
        as_of_date, portfolio_id, security_id, market_value, nav,
        row_number() over (partition by as_of_date, portfolio_id order by market_value desc, security_id) as holding_rank
    from valued
    where not is_cash and market_value > 0
),
top_holdings as (
    select as_of_date, portfolio_id, 'top_holding' as measure, security_id as bucket, cast(holding_rank as integer) as rank,
           market_value, market_value / nav as weight
    from holdings_ranked
    where holding_rank <= 10
),
trades_of_day as (
    select
        as_of_date,
        portfolio_id,
        sum(case when quantity_change > 0 then traded_amount else 0 end) as purchases,
        sum(case when quantity_change < 0 then traded_amount else 0 end) as sales
    from valued
    where not is_cash and traded_amount > 0
    group by as_of_date, portfolio_id
),
turnover as (
    select n.as_of_date, n.portfolio_id, 'turnover' as measure, 'all' as bucket, cast(null as integer) as rank,
           least(coalesce(t.purchases, 0), coalesce(t.sales, 0)) as market_value,
           least(coalesce(t.purchases, 0), coalesce(t.sales, 0)) / n.nav as weight
    from {{ ref('gold_nav_history') }} as n
    left join trades_of_day as t on t.as_of_date = n.as_of_date and t.portfolio_id = n.portfolio_id
    where {{ in_window('n.as_of_date') }} and n.nav > 0
)
select * from exposures
union all
select * from top_holdings
union all
select * from turnover
