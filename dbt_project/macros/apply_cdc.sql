{#- CDC apply: the current state of a table captured as Debezium-style change events.

    - a change delivered twice (same key and log sequence number) counts once;
    - the latest version of a key is the one with the highest log sequence number (lsn), the source
      database's commit order: ts_ms can run backwards and is never used for ordering;
    - a key whose latest change is a delete (op 'd') is gone; a later create/update revives it.

    `events` is a relation with the contract's key column, op, lsn and the row image's columns. -#}
{% macro apply_cdc(events, key, columns) -%}
with distinct_changes as (
    select *
    from (
        select
            e.*,
            row_number() over (
                partition by {{ key }}, lsn order by source_partition, source_offset
            ) as delivery_number
        from {{ events }} as e
    ) as deliveries
    where delivery_number = 1
),
ranked as (
    select
        distinct_changes.*,
        row_number() over (partition by {{ key }} order by lsn desc, source_offset desc) as recency,
        count(*) over (partition by {{ key }}) as change_count
    from distinct_changes
)
select
    {% for column in columns %}{{ column }},
    {% endfor %}lsn as source_lsn,
    source_partition,
    source_offset,
    ts_ms as source_ts_ms,
    change_count
from ranked
where recency = 1 and op <> 'd'
{%- endmacro %}
