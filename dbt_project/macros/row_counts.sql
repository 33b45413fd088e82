{#- Post-hook of every table, incremental model and seed (dbt_project.yml): logs the model's row counts (all rows, and
    the run's window of days for a daily model) as one JSON line `mesh.row_counts {...}` in dbt's event stream.
    The Dagster step reads it while dbt goes on with the next model, so each model's materialization (with its
    counts) is recorded as soon as the model is built, not after the whole build (mesh_assets/warehouse/dbt_run.py).
    A query, not a count from the adapter: DuckDB, Athena and Trino return no rows_affected for an incremental
    model's delete+insert or merge. -#}
{% macro report_row_counts() -%}
    {%- if execute and model.config.materialized in ('table', 'incremental', 'seed') -%}
        {%- set daily = 'daily' in (model.tags or []) -%}
        {%- set counts -%}
            select count(*) as total_rows,
                {% if daily -%}
                    sum(case when {{ in_window('as_of_date') }} then 1 else 0 end)
                {%- else -%}
                    cast(null as bigint)
                {%- endif %} as window_rows
            from {{ this }}
        {%- endset -%}
        {%- set row = run_query(counts).rows[0] -%}
        {%- do log('mesh.row_counts ' ~ tojson({'unique_id': model.unique_id, 'total_rows': row[0] | int,
                   'window_rows': (row[1] | int) if row[1] is not none else none}), info=True) -%}
    {%- endif -%}
{%- endmacro %}
