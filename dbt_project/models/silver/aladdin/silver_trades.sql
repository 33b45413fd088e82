{#- Current trades: the latest version of every trade by log sequence number, cancels (deletes)
    removed, redelivered changes counted once, typed. Quarantined trades are in silver.quarantined_events. -#}
select
    trade_id,
    portfolio_id,
    security_id,
    side,
    quantity,
    price,
    case when side = 'BUY' then quantity else -quantity end as signed_quantity,
    quantity * price as gross_amount,
    currency,
    trade_date,
    settle_date,
    version,
    source_lsn,
    source_partition,
    source_offset,
    source_ts_ms,
    change_count
from ({{ trades_checked() }}) as checked
where quarantine_reason is null
