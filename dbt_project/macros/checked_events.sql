{#- Trades and cash flows with CDC applied, each with the reason it must be quarantined (null when
    good). silver.trades / silver.cash_flows keep the good rows, silver.quarantined_events the rest. -#}
{% macro trades_checked() -%}
with current_trades as (
    {{ apply_cdc(source('bronze', 'aladdin_trades'), 'trade_id',
                 ['trade_id', 'portfolio_id', 'security_id', 'side', 'quantity', 'price', 'currency',
                  'trade_date', 'settle_date', 'version']) }}
)
select
    t.*,
    case
        when p.portfolio_id is null then 'unknown_portfolio'
        when s.security_id is null then 'unknown_security'
        when t.side not in ('BUY', 'SELL') then 'unknown_side'
        when t.quantity <= 0 then 'non_positive_quantity'
        when t.price <= 0 then 'non_positive_price'
    end as quarantine_reason
from current_trades as t
left join {{ ref('silver_portfolios') }} as p on p.portfolio_id = t.portfolio_id
left join {{ ref('silver_securities') }} as s on s.security_id = t.security_id
{%- endmacro %}

{% macro cash_flows_checked() -%}
with current_flows as (
    {{ apply_cdc(source('bronze', 'aladdin_cash_flows'), 'flow_id',
                 ['flow_id', 'portfolio_id', 'flow_date', 'amount', 'currency', 'flow_type', 'version']) }}
)
select
    f.*,
    case
        when p.portfolio_id is null then 'unknown_portfolio'
        when f.flow_type not in ('SUBSCRIPTION', 'REDEMPTION') then 'unknown_flow_type'
        when f.amount = 0 then 'zero_amount'
        when (f.flow_type = 'SUBSCRIPTION') <> (f.amount > 0) then 'sign_contradicts_flow_type'
    end as quarantine_reason
from current_flows as f
left join {{ ref('silver_portfolios') }} as p on p.portfolio_id = f.portfolio_id
{%- endmacro %}
