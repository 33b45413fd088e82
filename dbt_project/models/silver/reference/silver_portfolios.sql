{#- Portfolios from the latest reference snapshot, typed. -#}
select
    portfolio_id, portfolio_name, client_id, strategy, benchmark_id,
    nullif(composite_id, '') as composite_id, base_currency, fee_schedule, discretionary,
    inception_date, termination_date
from {{ source('bronze', 'reference_portfolios') }}
