{#- One FactSet level and daily return per benchmark and date; the latest delivery wins. -#}
select benchmark_id, level_date, level, daily_return, delivery_date, source_file, source_line
from (
    select
        benchmark_id, level_date, level, daily_return, delivery_date, source_file, source_line,
        row_number() over (
            partition by benchmark_id, level_date order by delivery_date desc, source_line desc
        ) as recency
    from {{ source('bronze', 'factset_benchmarks') }}
) as deliveries
where recency = 1
