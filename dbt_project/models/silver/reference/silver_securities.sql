{#- The security master from the latest reference snapshot. -#}
select security_id, figi, ticker, security_name, asset_class, sector, currency, country
from {{ source('bronze', 'reference_securities') }}
