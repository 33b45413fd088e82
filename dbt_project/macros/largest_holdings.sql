{#- The `limit` largest non-cash holdings of each portfolio and day, ranked by market value (ties by security), with
    their weight of NAV: as_of_date, portfolio_id, security_id, market_value, weight, holding_rank (per adapter).
    `valued` holds the window's valuations with the day's NAV (column nav); `nav_history` is gold.nav_history. -#}
{% macro largest_holdings(valued, nav_history, limit) -%}
    {{ return(adapter.dispatch('largest_holdings', 'investment_mesh')(valued, nav_history, limit)) }}
{%- endmacro %}

{% macro default__largest_holdings(valued, nav_history, limit) -%}
select as_of_date, portfolio_id, security_id, market_value, market_value / nav as weight, holding_rank
from (
    select
        as_of_date, portfolio_id, security_id, market_value, nav,
        row_number() over (partition by as_of_date, portfolio_id order by market_value desc, security_id) as holding_rank
    from {{ valued }}
    where not is_cash and market_value > 0
) as ranked
where holding_rank <= {{ limit }}
{%- endmacro %}

{#- Trino: ranking the large firm's 40M valuations keeps the top rows of 1.2M (day, portfolio) groups in memory; beside
    the exposures' group-by in the same query it passed one node's query memory and spilled (portfolio_analytics
    50 s, 0.8 GB spilled). Ranked per (day, portfolio number) without the NAV (the numbers from the NAV history's
    1,000 portfolios, the NAV joined to the ten kept), the query held 0.9 GB and took 30 s, the same rows. -#}
{% macro trino__largest_holdings(valued, nav_history, limit) -%}
with numbered_portfolios as (
    select portfolio_id, cast(row_number() over (order by portfolio_id) as integer) as portfolio_number
    from (select distinct portfolio_id from {{ nav_history }} where portfolio_id is not null)
),
ranked as (
    select
        v.as_of_date, np.portfolio_number, v.security_id, v.market_value,
        row_number() over (partition by v.as_of_date, np.portfolio_number
                           order by v.market_value desc, v.security_id) as holding_rank
    from {{ valued }} as v
    inner join numbered_portfolios as np on np.portfolio_id = v.portfolio_id
    where not v.is_cash and v.market_value > 0
)
select
    r.as_of_date, np.portfolio_id, r.security_id, r.market_value, r.market_value / n.nav as weight, r.holding_rank
from ranked as r
inner join numbered_portfolios as np on np.portfolio_number = r.portfolio_number
inner join {{ nav_history }} as n on n.as_of_date = r.as_of_date and n.portfolio_id = np.portfolio_id
where r.holding_rank <= {{ limit }}
{%- endmacro %}
