{#- Risk alerts the low-latency trade path raised (price deviation, limit breach, stale price), one row per
    streamed CDC event that raised any, with whether the end-of-day batch path booked the trade. A streamed
    alert on a trade the batch never booked is a cancelled or still-uncaptured trade to look at. -#}
select
    e.event_id,
    e.trade_id,
    e.op,
    e.portfolio_id,
    e.security_id,
    e.trade_date,
    e.side,
    e.quantity,
    e.price,
    e.close_price,
    e.close_date,
    e.deviation,
    e.position_notional,
    e.limit_notional,
    e.alerts,
    e.latency_ms,
    e.source_partition,
    e.source_offset,
    b.trade_id is not null as booked_in_batch
from {{ source('stream', 'trades_enriched') }} as e
left join (select distinct trade_id from {{ ref('silver_trades') }}) as b
    on b.trade_id = e.trade_id
where e.alerts <> ''
