{#- The current version of every Salesforce account (latest SystemModstamp). -#}
select id as account_id, name as account_name, client_id, tenant_id, aws_account_id, created_date, system_modstamp
from (
    select *, row_number() over (partition by id order by system_modstamp desc) as recency
    from {{ source('bronze', 'salesforce_accounts') }}
) as versions
where recency = 1
