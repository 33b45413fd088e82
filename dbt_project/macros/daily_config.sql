{#- Config of a daily gold model: incremental over the run's window of trading days, an Iceberg table
    partitioned by month on Athena and Trino. A model with an enforced contract (the data products) passes
    on_schema_change='append_new_columns': dbt refuses sync_all_columns there, and a product may gain
    columns but never lose one. -#}
{% macro daily_config(day_column, grain, on_schema_change='sync_all_columns') -%}
    {{ config(
        materialized='incremental',
        incremental_strategy=daily_strategy(),
        unique_key=daily_key(day_column, grain),
        incremental_predicates=daily_incremental_predicates(day_column),
        on_schema_change=on_schema_change,
        partitioned_by=daily_partitioned_by(day_column),
        properties=daily_properties(day_column),
        tags=['daily'],
    ) }}
{%- endmacro %}
