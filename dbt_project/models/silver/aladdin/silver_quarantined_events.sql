{#- Trades and cash flows held back from silver, with the reason: they never reach positions or
    returns, and the checks on silver.trades / silver.cash_flows fail while any are here. -#}
select
    'trades' as source_table,
    trade_id as record_key,
    portfolio_id,
    trade_date as event_date,
    quarantine_reason,
    'trade ' || trade_id || ' (portfolio ' || coalesce(portfolio_id, '?') || ', security '
        || coalesce(security_id, '?') || '): ' || quarantine_reason as reason,
    source_partition,
    source_offset
from ({{ trades_checked() }}) as checked
where quarantine_reason is not null
union all
select
    'cash_flows' as source_table,
    flow_id as record_key,
    portfolio_id,
    flow_date as event_date,
    quarantine_reason,
    'cash flow ' || flow_id || ' (portfolio ' || coalesce(portfolio_id, '?') || '): ' || quarantine_reason as reason,
    source_partition,
    source_offset
from ({{ cash_flows_checked() }}) as checked
where quarantine_reason is not null
