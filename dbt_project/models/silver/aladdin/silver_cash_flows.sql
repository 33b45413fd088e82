{#- Current external cash flows (subscriptions positive, redemptions negative), CDC applied. -#}
select
    flow_id,
    portfolio_id,
    flow_date,
    amount,
    currency,
    flow_type,
    version,
    source_lsn,
    source_partition,
    source_offset,
    source_ts_ms,
    change_count
from ({{ cash_flows_checked() }}) as checked
where quarantine_reason is null
