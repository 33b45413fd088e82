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
    query memory: it spilled and took 46 s. Here the rows are grouped by every column but the first (the day) and by
    a block of 64 consecutive days, and each group ORs one bit per day into a 64-bit word: a group with more rows
    than bits set holds a duplicate day. ~650K small groups: 3.5 s on the large firm's valuations (the earlier form,
    a count of distinct days per group, took 12 s: a distinct is a 40M-entry hash again). Only the suspect groups'
    rows are then grouped exactly, as the plain test does, so the test is exact whatever the first column holds: a
    first column that is no date (or a null day) lands in a null block, every such group of two rows or more is a
    suspect, and equal values always set the same bit. The join matches nulls (`is not distinct from`) on the
    columns themselves, so Trino's dynamic filter skips the second scan when no group is suspect (7.5 -> 3.1 s). -#}
{% macro trino__unique_combination_failures(model, columns) -%}
{%- if columns | length < 2 -%}
{{ default__unique_combination_failures(model, columns) }}
{%- else -%}
{%- set first, rest = columns[0], columns[1:] -%}
with numbered as (
    select *, date_diff('day', date '1970-01-01', try_cast(cast({{ first }} as varchar) as date)) as unique_day_number
    from {{ model }}
),
placed as (
    select *,
           unique_day_number - ((unique_day_number % 64) + 64) % 64 as unique_day_block,
           cast(((unique_day_number % 64) + 64) % 64 as integer) as unique_day_bit
    from numbered
),
suspect_groups as (
    select {{ rest | join(', ') }}, unique_day_block
    from placed
    group by {{ rest | join(', ') }}, unique_day_block
    having count(*) > coalesce(bit_count(bitwise_or_agg(bitwise_left_shift(cast(1 as bigint), unique_day_bit)), 64), 1)
)
select {% for c in columns %}m.{{ c }}{{ ', ' if not loop.last }}{% endfor %}, count(*) as occurrences
from placed as m
inner join suspect_groups as s
    on m.unique_day_block is not distinct from s.unique_day_block
    {%- for c in rest %}
    and m.{{ c }} is not distinct from s.{{ c }}
    {%- endfor %}
group by {% for c in columns %}m.{{ c }}{{ ', ' if not loop.last }}{% endfor %}
having count(*) > 1
{%- endif -%}
{%- endmacro %}
