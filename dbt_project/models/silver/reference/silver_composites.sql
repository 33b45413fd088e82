{#- GIPS composites and their membership parameters. -#}
select
    composite_id, composite_name, strategy, benchmark_id, currency, inception_date, creation_date, description,
    min_portfolio_size, significant_cash_flow_pct
from {{ source('bronze', 'reference_composites') }}
