{#- Positions of the window joined with the close they are valued at, and why a position cannot be
    valued: a negative quantity (sold more than held after corrections), no close at all, or a close
    older than var('max_close_age_days') sessions. gold.valuations keeps the valued rows,
    gold.unvalued_positions the others. -#}
{% macro position_valuation() -%}
select
    p.as_of_date,
    p.portfolio_id,
    p.security_id,
    p.is_cash,
    p.quantity,
    p.quantity_change,
    p.traded_amount,
    case when p.is_cash then 1.0 else c.close_price end as close_price,
    case when p.is_cash then p.as_of_date else c.close_date end as close_date,
    case when p.is_cash then 0 else c.close_age_days end as close_age_days,
    case when p.is_cash then 'Cash' else s.sector end as sector,
    case when p.is_cash then 'USD' else s.currency end as currency,
    case when p.is_cash then 'Cash' else s.asset_class end as asset_class,
    case
        when p.quantity < -0.000001 then 'negative_quantity'
        when p.is_cash then null
        when c.close_price is null then 'missing_close'
        when c.close_age_days > {{ var('max_close_age_days') }} then 'stale_close'
    end as unvalued_reason
from {{ ref('gold_positions') }} as p
left join {{ ref('silver_closes') }} as c
    on c.security_id = p.security_id and c.trading_day = p.as_of_date
left join {{ ref('silver_securities') }} as s on s.security_id = p.security_id
where {{ in_window('p.as_of_date') }}
{%- endmacro %}
