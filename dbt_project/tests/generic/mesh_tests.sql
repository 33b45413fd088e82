{#- Generic tests without packages (dbt deps would need the network). -#}

{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{% test positive(model, column_name) %}
select * from {{ model }} where {{ column_name }} <= 0
{% endtest %}

{% test non_negative(model, column_name, tolerance=0) %}
select * from {{ model }} where {{ column_name }} < -{{ tolerance }}
{% endtest %}
