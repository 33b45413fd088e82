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
    query memory: it spilled and took 46 s. When the first column is a date (asked of Trino: the type of one row's
    value), the rows are grouped by every other column and by a block of 64 consecutive days, and each group ORs one
    bit per day into a 64-bit word: a group with more rows than bits set holds a duplicate day. ~650K small groups:
    4.7 s on the large firm's valuations (a count of distinct days per group took 12 s: a distinct is a 40M-entry hash
    again). Only the suspect groups' rows are then grouped exactly, as the plain test does, joined with `=` on the
    columns themselves (a hash join; Trino's dynamic filter skips that scan when nothing is suspect). Rows with a null
    key are grouped exactly as they are (the plain test: a null equals a null there). Equal rows always fall in the
    same branch and set the same bit. Any other first column (silver's security first, a text key) or an empty
    table gets the plain group-by. -#}
{% macro trino__unique_combination_failures(model, columns) -%}
{%- set first_is_day = false -%}
{%- if execute and columns | length > 1 -%}
    {%- set probe = run_query("select typeof(" ~ columns[0] ~ ") as first_type from " ~ model ~ " limit 1") -%}
    {%- set first_is_day = probe.rows | length > 0 and probe.rows[0][0] == 'date' -%}
{%- endif -%}
{%- if not first_is_day -%}
{{ default__unique_combination_failures(model, columns) }}
{%- else -%}
{%- set first, rest = columns[0], columns[1:] -%}
with numbered as (
    select {{ columns | join(', ') }}, date_diff('day', date '1970-01-01', {{ first }}) as unique_day_number
    from {{ model }}
),
placed as (
    select *,
           unique_day_number - ((unique_day_number % 64) + 64) % 64 as unique_day_block,
           cast(((unique_day_number % 64) + 64) % 64 as integer) as unique_day_bit,
           {{ first }} is null{% for c in rest %} or {{ c }} is null{% endfor %} as unique_has_null
    from numbered
),
suspect_groups as (
    select {{ rest | join(', ') }}, unique_day_block
    from placed
    where not unique_has_null
    group by {{ rest | join(', ') }}, unique_day_block
    having count(*) > bit_count(bitwise_or_agg(bitwise_left_shift(cast(1 as bigint), unique_day_bit)), 64)
),
candidates as (
    select {% for c in columns %}m.{{ c }}{{ ', ' if not loop.last }}{% endfor %}
    from placed as m
    inner join suspect_groups as s
        on m.unique_day_block = s.unique_day_block
        {%- for c in rest %}
        and m.{{ c }} = s.{{ c }}
        {%- endfor %}
    union all
    select {{ columns | join(', ') }}
    from placed
    where unique_has_null
)
select {{ columns | join(', ') }}, count(*) as occurrences
from candidates
group by {{ columns | join(', ') }}
having count(*) > 1
{%- endif -%}
{%- endmacro %}
