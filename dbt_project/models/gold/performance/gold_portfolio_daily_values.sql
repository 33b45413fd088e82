{{ daily_config('as_of_date', ['as_of_date', 'portfolio_id']) }}
{#- Per portfolio and trading day: begin value (the previous session's end value), end value (all
    valued positions including cash, at the close) and the day's external flows. The previous
    session's values come from gold.valuations (the previous partition); when that session was never
    built the begin value is unknown (null) rather than zero. -#}
with sessions as (
    select trading_day, session_number from {{ ref('silver_nyse_trading_days') }}
),
window_sessions as (
    {{ window_days() }}
),
prior_session as (
    select max(trading_day) as trading_day from sessions where trading_day < {{ window_start() }}
),
values_by_day as (
    select
        v.as_of_date,
        v.portfolio_id,
        sum(v.market_value) as end_value,
        sum(case when v.is_cash then v.market_value else 0 end) as cash_value,
        sum(case when v.is_cash then 0 else 1 end) as positions,
        sum(case when v.is_carried_forward then 1 else 0 end) as carried_forward_closes,
        sum(case when v.is_cash then 0 else v.traded_amount end) as traded_amount
    from {{ ref('gold_valuations') }} as v
    where v.as_of_date between (select trading_day from prior_session) and {{ window_end() }}
    group by v.as_of_date, v.portfolio_id
),
loaded_days as (
    select distinct as_of_date from values_by_day
),
flows as (
    select flow_date, portfolio_id, cast(sum(amount) as double) as external_flow, count(*) as flow_count
    from {{ ref('silver_cash_flows') }}
    where flow_date between (select trading_day from prior_session) and {{ window_end() }}
    group by flow_date, portfolio_id
),
unvalued as (
    select as_of_date, portfolio_id, count(*) as unvalued_positions
    from {{ ref('gold_unvalued_positions') }}
    where {{ in_window('as_of_date') }}
    group by as_of_date, portfolio_id
),
portfolio_days as (
    select s.trading_day, s.session_number, p.portfolio_id, p.inception_date
    from window_sessions as s
    inner join {{ ref('silver_portfolios') }} as p
        on p.inception_date <= s.trading_day
        and (p.termination_date is null or p.termination_date >= s.trading_day)
),
previous_day as (
    select cur.trading_day, prev.trading_day as previous_day
    from window_sessions as cur
    inner join sessions as prev on prev.session_number = cur.session_number - 1
)
select
    pd.trading_day as as_of_date,
    pd.portfolio_id,
    pdy.previous_day,
    case
        when prev.end_value is not null then prev.end_value
        when loaded.as_of_date is not null or pd.trading_day = pd.inception_date then cast(0 as double)
    end as begin_value,
    coalesce(cur.end_value, 0) as end_value,
    coalesce(cur.cash_value, 0) as cash_value,
    coalesce(f.external_flow, 0) as external_flow,
    coalesce(f.flow_count, 0) as flow_count,
    coalesce(cur.positions, 0) as positions,
    coalesce(cur.carried_forward_closes, 0) as carried_forward_closes,
    coalesce(cur.traded_amount, 0) as traded_amount,
    coalesce(u.unvalued_positions, 0) as unvalued_positions,
    loaded.as_of_date is not null as previous_day_loaded
from portfolio_days as pd
inner join previous_day as pdy on pdy.trading_day = pd.trading_day
left join values_by_day as cur on cur.as_of_date = pd.trading_day and cur.portfolio_id = pd.portfolio_id
left join values_by_day as prev on prev.as_of_date = pdy.previous_day and prev.portfolio_id = pd.portfolio_id
left join loaded_days as loaded on loaded.as_of_date = pdy.previous_day
left join flows as f on f.flow_date = pd.trading_day and f.portfolio_id = pd.portfolio_id
left join unvalued as u on u.as_of_date = pd.trading_day and u.portfolio_id = pd.portfolio_id
