{{ daily_config('as_of_date', ['as_of_date', 'portfolio_id', 'security_id']) }}
{#- Daily holdings per portfolio at the close of each trading day of the window: shares of every
    security (the running sum of current trades) and cash (security 'CASH': external flows plus sale
    proceeds less purchase costs). A position closed today still shows today, with quantity 0.
    Sums run on silver's exact decimals (cash to the cent); the published figures are doubles, as
    valuation and returns use them. -#}
with days as (
    {{ window_days() }}
),
trades as (
    select portfolio_id, security_id, trade_date, signed_quantity, gross_amount, price
    from {{ ref('silver_trades') }}
    where trade_date <= {{ window_end() }}
),
changes as (
    select
        portfolio_id, security_id, trade_date as change_date,
        sum(signed_quantity) as quantity_change, sum(gross_amount) as traded_amount, count(*) as trade_count
    from trades
    group by portfolio_id, security_id, trade_date
    union all
    select portfolio_id, 'CASH' as security_id, change_date, sum(amount) as quantity_change,
           cast(0 as double) as traded_amount, cast(0 as bigint) as trade_count
    from (
        select portfolio_id, trade_date as change_date, -signed_quantity * price as amount from trades
        union all
        select portfolio_id, flow_date as change_date, amount
        from {{ ref('silver_cash_flows') }}
        where flow_date <= {{ window_end() }}
    ) as cash_movements
    group by portfolio_id, change_date
),
holdings as (
    select
        portfolio_id,
        security_id,
        change_date,
        quantity_change,
        traded_amount,
        trade_count,
        sum(quantity_change) over (
            partition by portfolio_id, security_id order by change_date rows between unbounded preceding and current row
        ) as quantity,
        lead(change_date) over (partition by portfolio_id, security_id order by change_date) as next_change_date
    from changes
)
select
    d.trading_day as as_of_date,
    h.portfolio_id,
    h.security_id,
    h.security_id = 'CASH' as is_cash,
    cast(h.quantity as double) as quantity,
    cast(case when h.change_date = d.trading_day then h.quantity_change else 0 end as double) as quantity_change,
    cast(case when h.change_date = d.trading_day then h.traded_amount else 0 end as double) as traded_amount,
    case when h.change_date = d.trading_day then h.trade_count else 0 end as trade_count,
    h.change_date as last_change_date
from holdings as h
inner join days as d
    on d.trading_day >= h.change_date
    and (h.next_change_date is null or d.trading_day < h.next_change_date)
where abs(h.quantity) > 0.000001 or h.change_date = d.trading_day
