{#- Generic tests without packages (dbt deps would need the network). -#}

{% test unique_combination(model, columns) %}
{{ unique_combination_failures(model, columns) }}  {#- macros/unique_combination.sql -#}
{% endtest %}

{% test positive(model, column_name) %}
select * from {{ model }} where {{ column_name }} <= 0
{% endtest %}

{% test non_negative(model, column_name, tolerance=0) %}
select * from {{ model }} where {{ column_name }} < -{{ tolerance }}
{% endtest %}
