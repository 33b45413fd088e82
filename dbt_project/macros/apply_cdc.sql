{#- CDC apply: the current state of a table captured as Debezium-style change events.

    - a change delivered twice (same key and log sequence number) counts once;
    - the latest version of a key is the one with the highest log sequence number (lsn), the source
      database's commit order: ts_ms can run backwards and is never used for ordering;
    - a key whose latest change is a delete (op 'd') is gone; a later create/update revives it;
    - a truncate (op 't', a row with an empty image) deletes every row of the table whose change
      came before it (lower lsn); a change after the truncate lands as usual.

    `events` is a relation with the contract's key column, op, lsn and the row image's columns. -#}
{% macro apply_cdc(events, key, columns) -%}
with last_truncate as (
    select max(lsn) as lsn from {{ events }} where op = 't'
),
distinct_changes as (
    select *
    from (
        select
            e.*,
            row_number() over (
                partition by {{ key }}, lsn order by source_partition, source_offset
            ) as delivery_number
        from {{ events }} as e
        where e.op <> 't'
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
    and ((select lsn from last_truncate) is null or lsn > (select lsn from last_truncate))
{%- endmacro %}
