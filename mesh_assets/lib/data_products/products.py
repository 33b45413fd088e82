"""The data products published to AWS Data Exchange, one ADX data set per product and tenant.

Names and data sets agree with the dbt seed ``silver_data_products.csv`` (a unit test holds them
together). Each product is cut from its ``gold_product_*`` model, which carries the owning tenant on
every row; revisions are published per tenant to ``<data set>-<tenant>`` (the tenant id validated,
never normalised), so a data grant can only ever expose the receiving client's own tenant. Declared
schemas are what the models produce; a revision may add columns, never drop or retype these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mesh_assets.lib.data_products.schema_contract import ProductSchema
from mesh_assets.lib.tenant_ids import validate_tenant_id


@dataclass(frozen=True)
class ProductSpec:
    """One data product: its ADX data set, the model it is cut from, its daily partition and contract."""

    product: str
    product_name: str
    adx_data_set: str
    source_model: str
    date_column: str
    schema: ProductSchema
    tenant_column: str | None = None

    def __post_init__(self) -> None:
        if self.schema.product != self.product:
            raise ValueError(f"data product {self.product}: schema declared for {self.schema.product}")
        if self.date_column not in self.schema.column_names:
            raise ValueError(f"data product {self.product}: date column {self.date_column} is not declared")
        if self.tenant_column is not None and self.tenant_column not in self.schema.column_names:
            raise ValueError(f"data product {self.product}: tenant column {self.tenant_column} is not declared")

    @property
    def source_table(self) -> str:
        """The warehouse relation: model ``gold_nav_history`` is table ``gold.nav_history``."""
        layer, _, name = self.source_model.partition("_")
        return f"{layer}.{name}"

    def data_set_for(self, tenant_id: str | None) -> str:
        """The ADX data set a tenant's rows are published to: ``mesh-nav-history-<tenant>`` (one per tenant,
        so a grant can only ever expose that tenant's rows); the shared data set for a product without tenant.

        The tenant id is validated (:func:`mesh_assets.lib.tenant_ids.validate_tenant_id`), never normalised: an
        id of another form raises ``InvalidTenantId`` naming it, so two tenants cannot share a data set."""
        if self.tenant_column is None or tenant_id is None:
            return self.adx_data_set
        return f"{self.adx_data_set}-{validate_tenant_id(tenant_id, f'data product {self.product}')}"

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The columns that identify a row of the product."""
        return self.schema.key_columns


_TENANT = (("tenant_id", "string"),)


def _portfolio_product(product: str, name: str, data_set: str, columns: tuple, keys: tuple) -> ProductSpec:
    return ProductSpec(
        product=product, product_name=name, adx_data_set=data_set, source_model=f"gold_product_{product}",
        date_column="as_of_date", tenant_column="tenant_id",
        schema=ProductSchema(product=product, columns=(("as_of_date", "date32[day]"), *_TENANT,
                                                       ("client_id", "string"), ("portfolio_id", "string"),
                                                       *columns), key_columns=keys),
    )


NAV_HISTORY = _portfolio_product(
    "nav_history", "NAV history", "mesh-nav-history",
    (("nav", "double"), ("external_flow", "double"), ("daily_return", "double"), ("nav_index", "double"),
     ("return_status", "string")),
    ("as_of_date", "portfolio_id"),
)

PERFORMANCE = _portfolio_product(
    "performance", "Performance", "mesh-performance",
    (("begin_value", "double"), ("end_value", "double"), ("external_flow", "double"), ("daily_return", "double"),
     ("return_status", "string"), ("is_large_flow", "bool")),
    ("as_of_date", "portfolio_id"),
)

ESG = _portfolio_product(
    "esg", "Exposure analytics", "mesh-exposure-analytics",
    (("measure", "string"), ("bucket", "string"), ("rank", "int32"), ("market_value", "double"),
     ("weight", "double")),
    ("as_of_date", "portfolio_id", "measure", "bucket"),
)

#: Prices are cut per tenant too: the closes of the securities the tenant's portfolios hold that day.
PRICES = ProductSpec(
    product="prices", product_name="Prices", adx_data_set="mesh-prices", source_model="gold_product_prices",
    date_column="as_of_date", tenant_column="tenant_id",
    schema=ProductSchema(
        product="prices",
        columns=(("as_of_date", "date32[day]"), *_TENANT, ("security_id", "string"), ("figi", "string"),
                 ("close_price", "double"), ("currency", "string"), ("is_late", "bool")),
        key_columns=("as_of_date", "tenant_id", "security_id"),
    ),
)

PRODUCTS: Mapping[str, ProductSpec] = {p.product: p for p in (NAV_HISTORY, PERFORMANCE, PRICES, ESG)}


def product_spec(product: str) -> ProductSpec:
    """The spec of ``product`` (``nav_history``, ``performance``, ``prices``, ``esg``)."""
    try:
        return PRODUCTS[product]
    except KeyError:
        raise KeyError(f"unknown data product {product!r}; published products: {sorted(PRODUCTS)}") from None


def product_for_data_set(adx_data_set: str) -> ProductSpec:
    """The product published as ADX data set ``adx_data_set`` (e.g. ``mesh-prices``)."""
    for spec in PRODUCTS.values():
        if spec.adx_data_set == adx_data_set:
            return spec
    raise KeyError(f"no data product is published as ADX data set {adx_data_set!r}")


def data_sets_by_product() -> dict[str, str]:
    """``{data product: ADX data set name}`` for the entitlement reconciler."""
    return {p.product: p.adx_data_set for p in PRODUCTS.values()}
