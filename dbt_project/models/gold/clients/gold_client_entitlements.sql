{#- Desired data grants: every active Salesforce contract (status Activated, as-of date within its
    term) × the data product it buys × the client's AWS account. The entitlement reconciler grants
    what is here and not in ADX, and revokes what is in ADX and no longer here.

    The tenant boundary has one owner: the firm's reference data (silver.clients). `tenant_id` and
    `aws_account_id` come from it only; the values typed into the Salesforce Account are
    carried beside them (`salesforce_tenant_id`, `salesforce_aws_account_id`) so that the reconciler
    (mesh_assets/entitlements/boundary.py) can hold a contract whose Salesforce values contradict the
    reference data, and its blocking check can name both. `aws_account_id` is the client's AWS account
    registered in reference data: the only account a grant goes to. A contract of an account that is
    no client in reference data has no tenant and no account (null) and is granted nothing. -#}
select
    c.contract_id,
    c.contract_number,
    c.account_id,
    a.account_name,
    cl.client_id,
    cl.tenant_id,
    cl.aws_account_id,
    a.client_id as salesforce_client_id,
    a.tenant_id as salesforce_tenant_id,
    a.aws_account_id as salesforce_aws_account_id,
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
