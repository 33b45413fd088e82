{#- Relations are named after the Dagster asset keys [layer, domain, table]: the schema is the layer
    (no target-schema prefix) and the relation drops the model's `<layer>_` prefix, so the model
    `gold_positions` is the table `gold.positions`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
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
