{{ daily_config('as_of_date', ['as_of_date', 'portfolio_id']) }}
{#- Net asset value per portfolio and trading day (holdings at the close plus cash), with a NAV index
    that chains the daily time-weighted returns from 100 (continuing from the previous session's
    index when that session is already in this table). -#}
with prior_session as (
    select max(trading_day) as trading_day
    from {{ ref('silver_nyse_trading_days') }}
    where trading_day < {{ window_start() }}
),
returns as (
    select
        r.as_of_date,
        r.portfolio_id,
        r.end_value,
        r.external_flow,
        r.daily_return,
        r.return_status,
        sum(ln(1 + coalesce(r.daily_return, 0))) over (
            partition by r.portfolio_id order by r.as_of_date rows between unbounded preceding and current row
        ) as log_growth
    from {{ ref('gold_daily_returns') }} as r
    where {{ in_window('r.as_of_date') }}
),
{% if is_incremental() %}
opening as (
    select portfolio_id, nav_index as opening_index
    from {{ this }}
    where as_of_date = (select trading_day from prior_session)
)
{% else %}
opening as (
    select cast(null as varchar) as portfolio_id, cast(null as double) as opening_index where 1 = 0
)
{% endif %}
select
    r.as_of_date,
    r.portfolio_id,
    r.end_value as nav,
    r.external_flow,
    r.daily_return,
    r.return_status,
    coalesce(o.opening_index, 100.0) * exp(r.log_growth) as nav_index
from returns as r
left join opening as o on o.portfolio_id = r.portfolio_id
