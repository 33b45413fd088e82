{#- Tenant isolation: every tenant of silver.clients gets a schema `tenant_<tenant_id>` (the id with its
    `-` written `_`: tenant_tnt_0001; mesh_assets/adx/tenant_filters.py names it the same way) holding
    one read-only view per data product:
        tenant_<tenant_id>.<data_product> = select * from gold.product_<...> where tenant_id = '<tenant_id>'
    DuckDB: schemas and views in the warehouse file. Athena: a Glue database per tenant and Athena
    views in it (the Lake Formation data-cell filters in deploy/lakeformation/ enforce the same rows
    for principals reading the product tables directly).

    The product models (models/gold/products/, `meta.data_product`) recreate their views after every
    build (post-hook `tenant_product_views()` in dbt_project.yml); `dbt run-operation
    create_tenant_views` recreates all of them, e.g. after a new client was onboarded. -#}

{#- The documented tenant id form: 'tnt-' and four digits (tnt-0001). The same rule as
    mesh_assets/tenant_ids.py TENANT_ID_PATTERN (a unit test holds them equal). Ids are validated,
    never normalised: 'tnt--0001', 'TNT-0001', 'tnt-0001 ' are refused, not cleaned up. -#}
{% macro tenant_id_pattern() -%}
    {{ return('^tnt-[0-9]{4}$') }}
{%- endmacro %}

{#- `tenant_id` if it has the documented form; otherwise a compiler error naming the value. -#}
{% macro validate_tenant_id(tenant_id, context='') -%}
    {%- if tenant_id is not string or modules.re.fullmatch(tenant_id_pattern(), tenant_id) is none -%}
        {{ exceptions.raise_compiler_error((context ~ ': ' if context else '') ~ "tenant id '" ~ tenant_id
            ~ "' is not a valid tenant id (expected 'tnt-' followed by four digits, e.g. 'tnt-0001'):"
            ~ " its rows could not be isolated") }}
    {%- endif -%}
    {{ return(tenant_id) }}
{%- endmacro %}

{#- `dbt run-operation validate_tenant_ids --args '{tenant_ids: [...]}'`: every id checked, the first bad one named. -#}
{% macro validate_tenant_ids(tenant_ids) -%}
    {%- for tenant_id in tenant_ids -%}
        {%- do validate_tenant_id(tenant_id) -%}
    {%- endfor -%}
    {{ log((tenant_ids | length) ~ " valid tenant id(s)", info=True) }}
{%- endmacro %}

{#- A developer target prefixes it like every other schema (macros/naming.sql). -#}
{% macro tenant_schema(tenant_id) -%}
    {{ return(target_schema_prefix() ~ 'tenant_' ~ (validate_tenant_id(tenant_id) | replace('-', '_'))) }}
{%- endmacro %}

{#- The tenants of silver.clients, checked: every id valid, no two ids that share a schema name. -#}
{% macro tenant_ids() -%}
    {%- set rows = run_query(
        "select distinct tenant_id from " ~ ref('silver_clients') ~ " order by tenant_id") -%}
    {%- set tenants = [] -%}
    {%- set by_schema = {} -%}
    {%- for tenant_id in rows.columns[0].values() -%}
        {%- if tenant_id is none or (tenant_id | string) == '' -%}
            {{ exceptions.raise_compiler_error("silver.clients has a client without tenant_id: its rows could not be isolated") }}
        {%- endif -%}
        {%- do validate_tenant_id(tenant_id, 'silver.clients') -%}
        {%- set schema = tenant_schema(tenant_id) -%}
        {%- if schema in by_schema -%}
            {{ exceptions.raise_compiler_error(
                "tenants '" ~ by_schema[schema] ~ "' and '" ~ tenant_id ~ "' of silver.clients both map to schema "
                ~ schema ~ ": tenant views would mix them") }}
        {%- endif -%}
        {%- do by_schema.update({schema: tenant_id}) -%}
        {%- do tenants.append(tenant_id) -%}
    {%- endfor -%}
    {{ return(tenants) }}
{%- endmacro %}

{#- Create (or replace) `tenant_<id>.<data_product>` over `product_relation` for every tenant. -#}
{% macro create_tenant_product_views(product_relation, data_product) -%}
    {%- set tenants = tenant_ids() -%}
    {%- for tenant_id in tenants -%}
        {%- set schema_relation = api.Relation.create(database=product_relation.database,
                                                      schema=tenant_schema(tenant_id)) -%}
        {%- do adapter.create_schema(schema_relation) -%}
        {%- set view = api.Relation.create(database=product_relation.database, schema=tenant_schema(tenant_id),
                                           identifier=data_product, type='view') -%}
        {%- call statement('tenant_view_' ~ loop.index, auto_begin=False) -%}
            create or replace view {{ view.include(database=False) }} as
            select * from {{ product_relation.include(database=False) }}
            where tenant_id = '{{ tenant_id | replace("'", "''") }}'
        {%- endcall -%}
    {%- endfor -%}
    {{ log("tenant views " ~ data_product ~ ": " ~ (tenants | length) ~ " tenants over " ~ product_relation, info=True) }}
    {{ return(tenants) }}
{%- endmacro %}

{#- Post-hook of the product models: recreate this model's tenant views (returns no SQL). -#}
{% macro tenant_product_views() -%}
    {#- var('tenant_views') false: a middle piece of a range built a piece at a time (the views select the
        whole table: the first piece's views serve every piece, the last piece's take any column it added;
        mesh_assets/warehouse/dbt_windows.py). -#}
    {%- if execute and var('tenant_views', true) -%}
        {%- set data_product = (config.get('meta') or {}).get('data_product') -%}
        {%- if not data_product -%}
            {{ exceptions.raise_compiler_error("model " ~ this ~ " has no meta.data_product: its tenant views cannot be named") }}
        {%- endif -%}
        {%- do create_tenant_product_views(this, data_product) -%}
    {%- endif -%}
{%- endmacro %}

{#- `dbt run-operation create_tenant_views`: the views of every built product model for every tenant. -#}
{% macro create_tenant_views() -%}
    {%- set created = namespace(views=0) -%}
    {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and (node.config.meta or {}).get('data_product') -%}
        {%- set relation = adapter.get_relation(database=node.database, schema=node.schema,
                                                identifier=node.alias) -%}
        {%- if relation is none -%}
            {{ log("tenant views: " ~ node.schema ~ "." ~ node.alias ~ " is not built yet, skipped", info=True) }}
        {%- else -%}
            {%- set created.views = created.views
                + (create_tenant_product_views(relation, node.config.meta['data_product']) | length) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if created.views > 0 -%}
        {%- do commit_operation() -%}
    {%- endif -%}
{%- endmacro %}

{#- run-operation does not commit: DuckDB's create_schema opened a transaction; Athena (and Trino) have none. -#}
{% macro commit_operation() -%}
    {{ return(adapter.dispatch('commit_operation', 'investment_mesh')()) }}
{%- endmacro %}
{% macro default__commit_operation() -%}{%- endmacro %}
{% macro duckdb__commit_operation() -%}
    {%- do adapter.commit() -%}
{%- endmacro %}
