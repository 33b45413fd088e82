{{ daily_config('as_of_date', ['as_of_date', 'portfolio_id'], on_schema_change='append_new_columns') }}
{#- Data product `performance` as published: daily time-weighted returns per portfolio with the
    tenant that owns it (portfolio -> client -> tenant). -#}
select
    r.as_of_date,
    c.tenant_id,
    p.client_id,
    r.portfolio_id,
    r.begin_value,
    r.end_value,
    r.external_flow,
    r.daily_return,
    r.return_status,
    r.is_large_flow
from {{ ref('gold_daily_returns') }} as r
left join {{ ref('silver_portfolios') }} as p on p.portfolio_id = r.portfolio_id
left join {{ ref('silver_clients') }} as c on c.client_id = p.client_id
where {{ in_window('r.as_of_date') }}
