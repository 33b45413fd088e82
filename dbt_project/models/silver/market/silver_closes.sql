{#- The close every security is valued at on every NYSE trading day: that day's Bloomberg close, or
    the latest earlier one carried forward (a missing or late price), with its age in sessions. -#}
with days as (
    select trading_day, session_number
    from {{ ref('silver_nyse_trading_days') }}
    where trading_day between (select min(price_date) from {{ ref('silver_prices') }})
                          and (select max(price_date) from {{ ref('silver_prices') }})
),
observed as (
    select
        s.security_id,
        d.trading_day,
        d.session_number,
        p.px_last,
        case when p.px_last is not null then d.trading_day end as observed_day,
        case when p.px_last is not null then d.session_number end as observed_session
    from {{ ref('silver_securities') }} as s
    cross join days as d
    left join {{ ref('silver_prices') }} as p
        on p.security_id = s.security_id and p.price_date = d.trading_day
)
select
    security_id,
    trading_day,
    session_number,
    close_price,
    close_date,
    session_number - close_session as close_age_days
from (
    select
        security_id,
        trading_day,
        session_number,
        {{ last_non_null('px_last') }} over carried_forward as close_price,
        {{ last_non_null('observed_day') }} over carried_forward as close_date,
        {{ last_non_null('observed_session') }} over carried_forward as close_session
    from observed
    window carried_forward as (
        partition by security_id order by trading_day rows between unbounded preceding and current row
    )
) as carried
