{#- Desired data grants: every active Salesforce contract (status Activated, as-of date within its
    term) × the data product it buys × the client's AWS account. The entitlement reconciler grants
    what is here and not in ADX, and revokes what is in ADX and no longer here. -#}
select
    c.contract_id,
    c.contract_number,
    c.account_id,
    a.account_name,
    coalesce(a.client_id, cl.client_id) as client_id,
    coalesce(a.tenant_id, cl.tenant_id) as tenant_id,
    a.aws_account_id,
    c.data_product,
    dp.adx_data_set,
    dp.source_model,
    c.start_date,
    c.end_date,
    {{ as_of_date() }} as as_of_date
from {{ ref('silver_contracts') }} as c
inner join {{ ref('silver_accounts') }} as a on a.account_id = c.account_id
inner join {{ ref('silver_data_products') }} as dp on dp.data_product = c.data_product
left join {{ ref('silver_clients') }} as cl on cl.salesforce_account_id = c.account_id
where c.status = 'Activated'
    and c.start_date <= {{ as_of_date() }}
    and (c.end_date is null or c.end_date >= {{ as_of_date() }})
