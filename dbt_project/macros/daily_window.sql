{#- The daily models rebuild a window of trading days: one Dagster partition, or a range of them in a
    single-run backfill (vars start_date/end_date, set by the Dagster asset from the partition window).
    DuckDB replaces the window's days (delete+insert on the day); Athena merges Iceberg rows on the
    model's grain. -#}
{% macro window_start() -%}cast('{{ var("start_date") }}' as date){%- endmacro %}
{% macro window_end() -%}cast('{{ var("end_date") }}' as date){%- endmacro %}

{% macro in_window(column) -%}
    {{ column }} between {{ window_start() }} and {{ window_end() }}
{%- endmacro %}

{#- Per adapter (adapter.dispatch): DuckDB (default) replaces the window's days with delete+insert keyed on
    the day (a single-column key becomes `where day in (...)`); Athena and Trino merge Iceberg rows on the
    model's grain, and both partition the table by month: Athena through `partitioned_by`, Trino through
    the Iceberg table property `partitioning` (dbt-trino's `properties` config). -#}
{% macro daily_strategy() -%}
    {{ return(adapter.dispatch('daily_strategy', 'investment_mesh')()) }}
{%- endmacro %}
{% macro default__daily_strategy() -%}{{ return('delete+insert') }}{%- endmacro %}
{% macro athena__daily_strategy() -%}{{ return('merge') }}{%- endmacro %}
{% macro trino__daily_strategy() -%}{{ return('merge') }}{%- endmacro %}

{% macro daily_key(day_column, grain) -%}
    {{ return(adapter.dispatch('daily_key', 'investment_mesh')(day_column, grain)) }}
{%- endmacro %}
{% macro default__daily_key(day_column, grain) -%}{{ return(day_column) }}{%- endmacro %}
{% macro athena__daily_key(day_column, grain) -%}{{ return(grain) }}{%- endmacro %}
{% macro trino__daily_key(day_column, grain) -%}{{ return(grain) }}{%- endmacro %}

{% macro daily_partitioned_by(day_column) -%}
    {{ return(adapter.dispatch('daily_partitioned_by', 'investment_mesh')(day_column)) }}
{%- endmacro %}
{% macro default__daily_partitioned_by(day_column) -%}{{ return(none) }}{%- endmacro %}
{% macro athena__daily_partitioned_by(day_column) -%}{{ return(['month(' ~ day_column ~ ')']) }}{%- endmacro %}

{#- Trino: the merge reads only the window's days of the table (its month partitions), not every day built so far:
    every row a daily model builds is a day of its window, so no other day can match. A full history built a year
    at a time (mesh_assets/warehouse/dbt_windows.py) merges each year against that year alone. Athena's merge
    keeps its default (no predicates): it has not run on Athena itself. -#}
{% macro daily_incremental_predicates(day_column) -%}
    {{ return(adapter.dispatch('daily_incremental_predicates', 'investment_mesh')(day_column)) }}
{%- endmacro %}
{% macro default__daily_incremental_predicates(day_column) -%}{{ return(none) }}{%- endmacro %}
{% macro trino__daily_incremental_predicates(day_column) -%}
    {{ return(['DBT_INTERNAL_DEST.' ~ day_column ~ ' between ' ~ window_start() ~ ' and ' ~ window_end()]) }}
{%- endmacro %}

{#- Table properties of a daily model: only Trino's Iceberg connector takes partitioning as a property. -#}
{% macro daily_properties(day_column) -%}
    {{ return(adapter.dispatch('daily_properties', 'investment_mesh')(day_column)) }}
{%- endmacro %}
{% macro default__daily_properties(day_column) -%}{{ return(none) }}{%- endmacro %}
{% macro trino__daily_properties(day_column) -%}
    {{ return({'partitioning': "ARRAY['month(" ~ day_column ~ ")']"}) }}
{%- endmacro %}

{#- The window's trading days that have closed: up to the latest Bloomberg price date (a day whose
    prices never arrived is not built, and the NAV check on it fails). -#}
{% macro window_days() -%}
    select trading_day, session_number
    from {{ ref('silver_nyse_trading_days') }}
    where {{ in_window('trading_day') }}
        and trading_day <= (select max(price_date) from {{ ref('silver_prices') }})
{%- endmacro %}
