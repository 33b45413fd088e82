{{ daily_config('as_of_date', ['as_of_date', 'portfolio_id'], on_schema_change='append_new_columns') }}
{#- Data product `nav_history` as published: NAV per portfolio and trading day with the tenant that
    owns it (portfolio -> client -> tenant). Tenant views and Lake Formation data-cell filters select
    rows of this table by tenant_id. -#}
select
    n.as_of_date,
    c.tenant_id,
    p.client_id,
    n.portfolio_id,
    n.nav,
    n.external_flow,
    n.daily_return,
    n.nav_index,
    n.return_status
from {{ ref('gold_nav_history') }} as n
left join {{ ref('silver_portfolios') }} as p on p.portfolio_id = n.portfolio_id
left join {{ ref('silver_clients') }} as c on c.client_id = p.client_id
where {{ in_window('n.as_of_date') }}
