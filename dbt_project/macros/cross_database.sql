{#- SQL that differs between DuckDB and Athena/Trino (Athena's engine is Trino), and shared date helpers. -#}

{#- As-of date for contract activity: the var, or today's date. -#}
{% macro as_of_date() -%}
    {%- if var('as_of_date') -%}cast('{{ var("as_of_date") }}' as date){%- else -%}current_date{%- endif -%}
{%- endmacro %}

{#- last_value ignoring nulls: DuckDB puts IGNORE NULLS inside the call, Trino after it. -#}
{% macro last_non_null(expression) -%}
    {{ return(adapter.dispatch('last_non_null', 'investment_mesh')(expression)) }}
{%- endmacro %}
{% macro default__last_non_null(expression) -%}last_value({{ expression }} ignore nulls){%- endmacro %}
{% macro athena__last_non_null(expression) -%}last_value({{ expression }}) ignore nulls{%- endmacro %}
{% macro trino__last_non_null(expression) -%}last_value({{ expression }}) ignore nulls{%- endmacro %}
