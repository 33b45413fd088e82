{#- The daily models rebuild a window of trading days: one Dagster partition, or a range of them in a
    single-run backfill (vars start_date/end_date, set by the Dagster asset from the partition window).
    DuckDB replaces the window's days (delete+insert on the day); Athena merges Iceberg rows on the
    model's grain. -#}
{% macro window_start() -%}cast('{{ var("start_date") }}' as date){%- endmacro %}
{% macro window_end() -%}cast('{{ var("end_date") }}' as date){%- endmacro %}

{% macro in_window(column) -%}
    {{ column }} between {{ window_start() }} and {{ window_end() }}
{%- endmacro %}

{% macro daily_strategy() -%}
    {{ return('merge' if target.type == 'athena' else 'delete+insert') }}
{%- endmacro %}

{#- DuckDB deletes the window's days by date (a single-column key becomes `where day in (...)`);
    Athena's merge needs the row grain. -#}
{% macro daily_key(day_column, grain) -%}
    {{ return(grain if target.type == 'athena' else day_column) }}
{%- endmacro %}

{#- The window's trading days that have closed: up to the latest Bloomberg price date (a day whose
    prices never arrived is not built, and the NAV check on it fails). -#}
{% macro window_days() -%}
    select trading_day, session_number
    from {{ ref('silver_nyse_trading_days') }}
    where {{ in_window('trading_day') }}
        and trading_day <= (select max(price_date) from {{ ref('silver_prices') }})
{%- endmacro %}
