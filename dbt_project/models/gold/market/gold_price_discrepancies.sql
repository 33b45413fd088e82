{#- Trades whose price is more than var('price_discrepancy_threshold') (2%) away from the Bloomberg
    close of the trade date: booking errors or off-market executions to investigate. -#}
select
    t.trade_id,
    t.portfolio_id,
    t.security_id,
    t.trade_date,
    t.side,
    cast(t.quantity as double) as quantity,
    cast(t.price as double) as trade_price,
    p.px_last as bloomberg_close,
    cast(t.price as double) / p.px_last - 1 as relative_difference,
    (cast(t.price as double) - p.px_last) * cast(t.quantity as double) as amount_at_stake,
    cast({{ var('price_discrepancy_threshold') }} as double) as threshold
from {{ ref('silver_trades') }} as t
inner join {{ ref('silver_prices') }} as p
    on p.security_id = t.security_id and p.price_date = t.trade_date
where abs(t.price / p.px_last - 1) > {{ var('price_discrepancy_threshold') }}
