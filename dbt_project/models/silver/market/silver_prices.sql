{#- One Bloomberg close per security and price date. A late price (delivered in a later file) or a
    re-delivery replaces an earlier one: the latest delivery wins, then the last line of the file. -#}
select security_id, figi, price_date, px_last, currency, delivery_date, source_file, source_line, is_late
from (
    select
        security_id, figi, price_date, px_last, currency, delivery_date, source_file, source_line,
        delivery_date > price_date as is_late,
        row_number() over (
            partition by security_id, price_date order by delivery_date desc, source_line desc
        ) as recency
    from {{ source('bronze', 'bloomberg_prices') }}
) as deliveries
where recency = 1
