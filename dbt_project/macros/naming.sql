{#- Relations are named after the Dagster asset keys [layer, domain, table]: the schema is the layer and
    the relation drops the model's `<layer>_` prefix, so the model `gold_positions` is the table
    `gold.positions`.

    Schemas per target: only the shared targets use the bare layer names. `athena` is production's Glue
    catalog, `trino` a cluster's Iceberg JDBC catalog; `duckdb` is each developer's (or test's) own warehouse
    file, whose `silver`/`gold` names the Python code reads (resources/warehouse.py). Every other target (e.g. `athena_dev`) prefixes the layer
    with its own schema: `dev_alice_silver`, `dev_alice_gold`, and `dev_alice_tenant_tnt_0001` for tenant
    views, so a developer's build never writes production's tables. -#}
{% macro shared_schema_targets() -%}
    {{ return(['athena', 'duckdb', 'trino']) }}
{%- endmacro %}

{#- `<target.schema>_` on a developer target, nothing on a shared one. -#}
{% macro target_schema_prefix() -%}
    {{ return('' if target.name in shared_schema_targets() else (target.schema | trim) ~ '_') }}
{%- endmacro %}

{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ target_schema_prefix() ~ (custom_schema_name | trim) }}
    {%- endif -%}
{%- endmacro %}

{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
    {%- if custom_alias_name -%}
        {{ custom_alias_name | trim }}
    {%- else -%}
        {%- set layer = (node.config.meta or {}).get('layer') -%}
        {%- if layer and node.name.startswith(layer ~ '_') -%}
            {{ node.name[layer | length + 1:] }}
        {%- else -%}
            {{ node.name }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
