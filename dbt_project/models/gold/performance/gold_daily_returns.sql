{{ daily_config('as_of_date', ['as_of_date', 'portfolio_id']) }}
{#- Daily true time-weighted returns. The firm deals and books external flows at the close, and
    every portfolio is revalued at every close, so each flow ends a sub-period and is valued exactly:
        r = (end value - external flow) / begin value - 1
    No Modified Dietz weighting is applied to any flow. A flow at least the composite's
    significant-cash-flow percentage of the begin value (10% without a composite) is marked large;
    GIPS composite rules use it. Inception days (begin value 0) and days whose previous session was
    never built have no return (return_status says which). -#}
with values_of_day as (
    select v.*, coalesce(c.significant_cash_flow_pct, 10.0) / 100.0 as large_flow_threshold
    from {{ ref('gold_portfolio_daily_values') }} as v
    left join {{ ref('silver_portfolios') }} as p on p.portfolio_id = v.portfolio_id
    left join {{ ref('silver_composites') }} as c on c.composite_id = p.composite_id
    where {{ in_window('v.as_of_date') }}
)
select
    as_of_date,
    portfolio_id,
    begin_value,
    end_value,
    external_flow,
    case when begin_value > 0 then (end_value - external_flow) / begin_value - 1 end as daily_return,
    case
        when begin_value is null then 'previous_session_missing'
        when begin_value = 0 and external_flow <> 0 then 'inception'
        when begin_value = 0 then 'no_assets'
        when unvalued_positions > 0 then 'incomplete_valuation'
        else 'ok'
    end as return_status,
    begin_value > 0 and abs(external_flow) >= large_flow_threshold * begin_value as is_large_flow,
    large_flow_threshold,
    unvalued_positions
from values_of_day
