{{ daily_config('as_of_date', ['as_of_date', 'tenant_id', 'security_id'], on_schema_change='append_new_columns') }}
{#- Data product `prices` as published: the Bloomberg closes of the securities a tenant's portfolios
    hold at that day's close, one row per tenant, security and day (as_of_date is the price date).
    A tenant sees only the closes of what it holds, never the firm's whole price list. Delivery
    lineage (date, file, line) stays in silver.prices. -#}
with held as (
    {{ held_by_tenant(ref('gold_positions'), ref('silver_portfolios'), ref('silver_clients')) }}
)
select
    h.as_of_date,
    h.tenant_id,
    h.security_id,
    pr.figi,
    pr.px_last as close_price,
    pr.currency,
    pr.is_late
from held as h
inner join {{ ref('silver_prices') }} as pr on pr.security_id = h.security_id and pr.price_date = h.as_of_date
