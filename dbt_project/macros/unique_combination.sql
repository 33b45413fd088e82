{#- The body of the generic test `unique_combination` (tests/generic/mesh_tests.sql), per adapter. -#}
{#- The rows of `columns` that occur more than once, with how often (the same rows on every engine). -#}
{% macro unique_combination_failures(model, columns) -%}
    {{ return(adapter.dispatch('unique_combination_failures', 'investment_mesh')(model, columns)) }}
{%- endmacro %}

{% macro default__unique_combination_failures(model, columns) -%}
select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{%- endmacro %}

{#- Trino: the plain group-by over the large firm's 40M positions is one hash table of 40M groups, past one node's
    query memory: it spilled and took 46 s. Grouped by every column but the first (the day), with the first counted
    distinct inside each group, it holds ~32K groups and took 10 s (no spill); a group with more rows than distinct
    days (a null counted as one value) has a duplicate, and only its rows are grouped exactly, as the plain test
    does. The join compares the columns as text with null as '' (a collision only adds candidates: the exact
    group-by decides). -#}
{% macro trino__unique_combination_failures(model, columns) -%}
{%- if columns | length < 2 -%}
{{ default__unique_combination_failures(model, columns) }}
{%- else -%}
{%- set first, rest = columns[0], columns[1:] -%}
with scoped as (
    select * from {{ model }}
),
suspect_groups as (
    select {{ rest | join(', ') }}
    from scoped
    group by {{ rest | join(', ') }}
    having count(*) > count(distinct {{ first }}) + max(case when {{ first }} is null then 1 else 0 end)
)
select {% for c in columns %}m.{{ c }}{{ ', ' if not loop.last }}{% endfor %}, count(*) as occurrences
from scoped as m
inner join suspect_groups as s
    on {% for c in rest -%}
        coalesce(cast(m.{{ c }} as varchar), '') = coalesce(cast(s.{{ c }} as varchar), '')
        {{- ' and ' if not loop.last }}
    {%- endfor %}
group by {% for c in columns %}m.{{ c }}{{ ', ' if not loop.last }}{% endfor %}
having count(*) > 1
{%- endif -%}
{%- endmacro %}
