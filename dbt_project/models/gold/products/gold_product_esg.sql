{{ daily_config('as_of_date', ['as_of_date', 'portfolio_id', 'measure', 'bucket'], on_schema_change='append_new_columns') }}
{#- Data product `esg` (exposure analytics) as published: sector and currency exposure, top holdings
    and turnover per portfolio and trading day with the tenant that owns the portfolio. -#}
select
    a.as_of_date,
    c.tenant_id,
    p.client_id,
    a.portfolio_id,
    a.measure,
    a.bucket,
    a.rank,
    a.market_value,
    a.weight
from {{ ref('gold_portfolio_analytics') }} as a
left join {{ ref('silver_portfolios') }} as p on p.portfolio_id = a.portfolio_id
left join {{ ref('silver_clients') }} as c on c.client_id = p.client_id
where {{ in_window('a.as_of_date') }}
