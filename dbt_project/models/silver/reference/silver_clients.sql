{#- Clients with their tenant, AWS account and Salesforce account. -#}
select client_id, client_name, tenant_id, aws_account_id, salesforce_account_id, region
from {{ source('bronze', 'reference_clients') }}
