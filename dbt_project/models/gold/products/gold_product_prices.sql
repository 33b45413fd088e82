{{ daily_config('as_of_date', ['as_of_date', 'tenant_id', 'security_id'], on_schema_change='append_new_columns') }}
{#- Data product `prices` as published: the Bloomberg closes of the securities a tenant's portfolios
    hold at that day's close, one row per tenant, security and day (as_of_date is the price date).
    A tenant sees only the closes of what it holds, never the firm's whole price list. Delivery
    lineage (date, file, line) stays in silver.prices. -#}
with held as (
    select distinct pos.as_of_date, c.tenant_id, pos.security_id
    from {{ ref('gold_positions') }} as pos
    left join {{ ref('silver_portfolios') }} as p on p.portfolio_id = pos.portfolio_id
    left join {{ ref('silver_clients') }} as c on c.client_id = p.client_id
    where {{ in_window('pos.as_of_date') }} and not pos.is_cash and pos.quantity > 0
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
