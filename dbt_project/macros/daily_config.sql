{#- Config of a daily gold model: incremental over the run's window of trading days, an Iceberg table
    partitioned by month on Athena. -#}
{% macro daily_config(day_column, grain) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy=daily_strategy(),
        unique_key=daily_key(day_column, grain),
        on_schema_change='sync_all_columns',
        partitioned_by=(['month(' ~ day_column ~ ')'] if target.type == 'athena' else none),
        tags=['daily'],
    ) }}
{%- endmacro %}
