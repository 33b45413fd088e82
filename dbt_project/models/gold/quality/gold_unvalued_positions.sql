{{ daily_config('as_of_date', ['as_of_date', 'portfolio_id', 'security_id']) }}
{#- Positions held back from valuations, with the reason; never silently dropped. -#}
select
    as_of_date, portfolio_id, security_id, quantity, close_price, close_date, close_age_days, unvalued_reason,
    'portfolio ' || portfolio_id || ' holds ' || cast(quantity as varchar) || ' of ' || security_id
        || ' on ' || cast(as_of_date as varchar) || ': ' || unvalued_reason as reason
from ({{ position_valuation() }}) as valuation
where unvalued_reason is not null
