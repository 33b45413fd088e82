{#- Two runs of the daily models at once on Trino (MESH_ENV=cluster: runs of different days write side by
    side). dbt-trino's incremental merge first creates the view `<table>__dbt_tmp` of the run's window and
    drops it after the merge: two runs sharing that name would drop and recreate each other's view, and one
    would merge the other's days. Each dbt invocation gets its own temporary relation. -#}
{% macro trino__make_temp_relation(base_relation, suffix='__dbt_tmp') -%}
    {%- set unique_suffix = suffix ~ '_' ~ (invocation_id | replace('-', ''))[:16] -%}
    {{ return(default__make_temp_relation(base_relation, unique_suffix)) }}
{%- endmacro %}
