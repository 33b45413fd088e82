{#- Benchmarks the composites and portfolios are measured against. -#}
select benchmark_id, benchmark_name, provider, currency
from {{ source('bronze', 'reference_benchmarks') }}
