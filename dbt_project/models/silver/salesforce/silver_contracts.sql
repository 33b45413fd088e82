{#- The current version of every Salesforce contract (latest SystemModstamp). -#}
select
    id as contract_id, account_id, contract_number, data_product, start_date, end_date, status,
    adx_provisioned, created_date, system_modstamp
from (
    select *, row_number() over (partition by id order by system_modstamp desc) as recency
    from {{ source('bronze', 'salesforce_contracts') }}
) as versions
where recency = 1
