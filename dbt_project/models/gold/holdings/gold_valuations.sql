{{ daily_config('as_of_date', ['as_of_date', 'portfolio_id', 'security_id']) }}
{#- Positions × the Bloomberg close of the day (carried forward up to var('max_close_age_days')
    sessions when a price is late), with sector and currency. Positions that cannot be valued are in
    gold.unvalued_positions with the reason, and the valuations check fails while any exist. -#}
select
    as_of_date, portfolio_id, security_id, is_cash, quantity, close_price, close_date, close_age_days,
    close_age_days > 0 as is_carried_forward,
    quantity * close_price as market_value,
    quantity_change, traded_amount, sector, currency, asset_class
from ({{ position_valuation() }}) as valuation
where unvalued_reason is null
