"""The firm's reference data: clients, composites, portfolios, securities and benchmarks."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from mesh_dev.firm import identifiers as ids
from mesh_dev.firm.history_window import HistoryWindow
from mesh_dev.firm.randomness import DrawStream
from mesh_dev.firm.scales import FirmScale

CURRENCY = "USD"
COUNTRY = "US"

CLIENT_NAMES = (
    "Harbor", "Summit", "Granite", "Lakeshore", "Evergreen", "Northbridge", "Redwood", "Bluewater",
    "Ironwood", "Silver Creek", "Cedar Point", "Highland", "Meridian", "Pioneer", "Riverside",
    "Stonegate", "Westbrook", "Aspen", "Beacon", "Crescent", "Fairview", "Golden Valley", "Juniper",
    "Kingsbridge", "Maple Ridge", "Oakmont", "Pinecrest", "Sterling", "Willow Bay", "Windmere",
)  # fmt: skip
CLIENT_KINDS = (
    "Pension Fund", "Endowment", "Foundation", "Family Office", "Insurance Company",
    "Retirement System", "Trust", "Sovereign Fund", "Health System", "University",
)  # fmt: skip
REGIONS = ("us-east-1", "us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2")

BENCHMARKS = (
    ("S&P 500", "S&P Dow Jones Indices"),
    ("Russell 1000 Growth", "FTSE Russell"),
    ("Russell 1000 Value", "FTSE Russell"),
    ("MSCI World", "MSCI"),
    ("Russell 2000", "FTSE Russell"),
    ("MSCI ACWI", "MSCI"),
    ("S&P 500 Equal Weight", "S&P Dow Jones Indices"),
    ("MSCI USA ESG Leaders", "MSCI"),
    ("Nasdaq-100", "Nasdaq"),
    ("S&P MidCap 400", "S&P Dow Jones Indices"),
)
# strategy -> index of its natural benchmark in BENCHMARKS
STRATEGIES = (
    ("US Large Cap Core", 0),
    ("US Large Cap Growth", 1),
    ("US Large Cap Value", 2),
    ("Dividend Income", 2),
    ("Quality Growth", 1),
    ("Global Equity", 3),
    ("US Small Cap", 4),
    ("Global All Cap", 5),
    ("Equal Weight Core", 6),
    ("ESG Leaders", 7),
    ("Technology Innovation", 8),
    ("US Mid Cap", 9),
)
COMPOSITE_VARIANTS = ("", "Concentrated", "Tax-Managed", "ESG Screened", "Enhanced", "Select", "Opportunities")
MIN_PORTFOLIO_SIZES = (1_000_000, 2_000_000, 5_000_000)
SIGNIFICANT_CASH_FLOW_PCTS = (10.0, 10.0, 15.0, 20.0)
FEE_SCHEDULES = (
    [{"up_to": 50_000_000, "bps": 75}, {"up_to": None, "bps": 50}],
    [{"up_to": 25_000_000, "bps": 90}, {"up_to": 100_000_000, "bps": 70}, {"up_to": None, "bps": 55}],
    [{"up_to": None, "bps": 60}],
    [{"up_to": 100_000_000, "bps": 65}, {"up_to": None, "bps": 45}],
)

SECTOR_WORDS = {
    "Communication Services": ("Media", "Networks", "Telecom"),
    "Consumer Discretionary": ("Retail", "Motors", "Brands"),
    "Consumer Staples": ("Foods", "Beverages", "Household"),
    "Energy": ("Energy", "Petroleum", "Resources"),
    "Financials": ("Financial", "Bancorp", "Capital"),
    "Health Care": ("Health", "Therapeutics", "Medical"),
    "Industrials": ("Industries", "Aerospace", "Logistics"),
    "Information Technology": ("Systems", "Software", "Semiconductor"),
    "Materials": ("Materials", "Chemicals", "Mining"),
    "Real Estate": ("Realty", "Properties", "REIT"),
    "Utilities": ("Utilities", "Power", "Water"),
}
SECTORS = tuple(SECTOR_WORDS)
ISSUER_WORDS = (
    "Acme", "Apex", "Atlas", "Bright", "Cobalt", "Delta", "Echo", "Falcon", "Global", "Helix", "Ion",
    "Jade", "Keystone", "Lumen", "Nova", "Orion", "Polar", "Quantum", "Radiant", "Sierra", "Titan",
    "Unity", "Vertex", "Wave", "Xenon", "Zenith", "Arbor", "Boreal", "Cascade", "Dynamo", "Ember",
    "Frontier", "Harborline", "Insight", "Kestrel", "Lattice", "Magna", "Nimbus", "Onyx", "Prism",
)  # fmt: skip
ISSUER_SUFFIXES = ("Inc", "Corp", "Holdings", "Group")
ETF_SHARE = 0.1


@dataclass(frozen=True)
class Client:
    """An institutional client of the firm (one tenant of the data mesh)."""

    client_id: str
    client_name: str
    tenant_id: str
    aws_account_id: str
    salesforce_account_id: str
    region: str


@dataclass(frozen=True)
class Benchmark:
    """A benchmark index the firm measures strategies against."""

    benchmark_id: str
    benchmark_name: str
    provider: str
    currency: str


@dataclass(frozen=True)
class Composite:
    """A GIPS composite: the discretionary portfolios run to one strategy."""

    composite_id: str
    composite_name: str
    strategy: str
    benchmark_id: str
    currency: str
    inception_index: int
    creation_index: int
    description: str
    min_portfolio_size: int
    significant_cash_flow_pct: float


@dataclass(frozen=True)
class Portfolio:
    """A client portfolio. ``inception_index``/``termination_index`` are trading-day indices."""

    portfolio_id: str
    portfolio_name: str
    client_id: str
    strategy: str
    benchmark_id: str
    composite_id: str
    base_currency: str
    fee_schedule: str
    discretionary: bool
    inception_index: int
    termination_index: int | None


@dataclass(frozen=True)
class Security:
    """A listed security the portfolios can hold."""

    security_id: str
    figi: str
    ticker: str
    security_name: str
    asset_class: str
    sector: str
    currency: str
    country: str


@dataclass(frozen=True)
class ReferenceData:
    """All reference data of the firm."""

    clients: tuple[Client, ...]
    composites: tuple[Composite, ...]
    portfolios: tuple[Portfolio, ...]
    securities: tuple[Security, ...]
    benchmarks: tuple[Benchmark, ...]

    @property
    def composite_entries(self) -> list[str]:
        """Portfolios that incept (and so enter their composite) after the first trading day."""
        return [p.portfolio_id for p in self.portfolios if p.inception_index > 0]

    @property
    def composite_exits(self) -> list[str]:
        """Portfolios that terminate (and so leave their composite) before the last trading day."""
        return [p.portfolio_id for p in self.portfolios if p.termination_index is not None]


def build_reference(scale: FirmScale, window: HistoryWindow, rng: np.random.Generator) -> ReferenceData:
    """Draw the firm's reference data for ``scale`` over ``window``."""
    draws = DrawStream(rng)
    clients = _clients(scale.clients, rng, draws)
    benchmarks = _benchmarks(scale.benchmarks)
    securities = _securities(scale.securities, draws)
    composite_specs = _composite_specs(scale.composites, benchmarks, draws)
    portfolios = _portfolios(scale, len(window.days), clients, composite_specs, benchmarks, rng, draws)
    first_funded = {spec["id"]: min(p.inception_index for p in portfolios if p.composite_id == spec["id"])
                    for spec in composite_specs}
    composites = tuple(
        Composite(
            inception_index=first_funded[spec["id"]],
            creation_index=creation_index(spec["id"], first_funded[spec["id"]], len(window.days)),
            composite_id=spec["id"],
            composite_name=spec["name"],
            strategy=spec["strategy"],
            benchmark_id=spec["benchmark_id"],
            currency=CURRENCY,
            description=spec["description"],
            min_portfolio_size=spec["min_portfolio_size"],
            significant_cash_flow_pct=spec["significant_cash_flow_pct"],
        )
        for spec in composite_specs
    )
    return ReferenceData(clients, composites, portfolios, securities, benchmarks)


#: A composite is created (the firm first groups portfolios under its definition) 10 to 30 sessions after its
#: first portfolio is funded: never before that portfolio exists, sometimes before and sometimes after the
#: composite's first full month (its performance inception), as the GIPS 2020 creation-date disclosure allows.
CREATION_LAG_SESSIONS = (10, 30)


def creation_index(composite_id: str, first_funded_index: int, n_days: int) -> int:
    """Trading-day index of the composite's creation: a lag derived from its id (deterministic, and drawn
    outside the firm's random stream so no other figure moves), never after the history's last day."""
    import zlib

    low, high = CREATION_LAG_SESSIONS
    lag = low + zlib.crc32(composite_id.encode()) % (high - low + 1)
    return min(first_funded_index + lag, n_days - 1)


def _clients(count: int, rng: np.random.Generator, draws: DrawStream) -> tuple[Client, ...]:
    names = [f"{first} {kind}" for first in CLIENT_NAMES for kind in CLIENT_KINDS]
    if count > len(names):
        raise ValueError(f"at most {len(names)} clients are supported")
    picked = rng.permutation(len(names))[:count].tolist()
    aws_taken: set[str] = set()
    sf_taken: set[str] = set()
    return tuple(
        Client(
            client_id=ids.client_id(number),
            client_name=names[name_index],
            tenant_id=ids.tenant_id(number),
            aws_account_id=ids.new_aws_account_id(draws, aws_taken),
            salesforce_account_id=ids.new_salesforce_id(ids.ACCOUNT_PREFIX, draws, sf_taken),
            region=draws.choice(REGIONS),
        )
        for number, name_index in enumerate(picked, start=1)
    )


def _benchmarks(count: int) -> tuple[Benchmark, ...]:
    if count > len(BENCHMARKS):
        raise ValueError(f"at most {len(BENCHMARKS)} benchmarks are supported")
    return tuple(
        Benchmark(ids.benchmark_id(number), name, provider, CURRENCY)
        for number, (name, provider) in enumerate(BENCHMARKS[:count], start=1)
    )


def _securities(count: int, draws: DrawStream) -> tuple[Security, ...]:
    figis: set[str] = set()
    tickers: set[str] = set()
    names: set[str] = set()
    securities = []
    for number in range(1, count + 1):
        sector = draws.choice(SECTORS)
        is_etf = draws.chance(ETF_SHARE)
        while True:
            issuer = draws.choice(ISSUER_WORDS)
            if is_etf:
                name = f"{issuer} {sector} Sector ETF"
            else:
                name = f"{issuer} {draws.choice(SECTOR_WORDS[sector])} {draws.choice(ISSUER_SUFFIXES)}"
            if name not in names:
                names.add(name)
                break
        while True:
            length = 3 if is_etf else draws.integer(2, 5)
            ticker = "".join(chr(ord("A") + draws.integer(0, 26)) for _ in range(length))
            if ticker not in tickers:
                tickers.add(ticker)
                break
        securities.append(
            Security(
                security_id=ids.security_id(number),
                figi=ids.new_figi(draws, figis),
                ticker=ticker,
                security_name=name,
                asset_class="ETF" if is_etf else "Equity",
                sector=sector,
                currency=CURRENCY,
                country=COUNTRY,
            )
        )
    return tuple(securities)


def _composite_specs(count: int, benchmarks: tuple[Benchmark, ...], draws: DrawStream) -> list[dict]:
    available = [(name, bm) for name, bm in STRATEGIES if bm < len(benchmarks)]
    if count > len(available) * len(COMPOSITE_VARIANTS):
        raise ValueError(f"at most {len(available) * len(COMPOSITE_VARIANTS)} composites are supported")
    specs = []
    for index in range(count):
        strategy, bm_index = available[index % len(available)]
        variant = COMPOSITE_VARIANTS[index // len(available)]
        benchmark = benchmarks[bm_index]
        label = f"{strategy} {variant}" if variant else strategy
        specs.append(
            {
                "id": ids.composite_id(index + 1),
                "name": f"{label} Composite",
                "strategy": strategy,
                "benchmark_id": benchmark.benchmark_id,
                "description": (
                    f"All discretionary, fee-paying {label} portfolios, managed in USD against the "
                    f"{benchmark.benchmark_name}."
                ),
                "min_portfolio_size": draws.choice(MIN_PORTFOLIO_SIZES),
                "significant_cash_flow_pct": draws.choice(SIGNIFICANT_CASH_FLOW_PCTS),
            }
        )
    return specs


def _portfolios(
    scale: FirmScale,
    n_days: int,
    clients: tuple[Client, ...],
    composite_specs: list[dict],
    benchmarks: tuple[Benchmark, ...],
    rng: np.random.Generator,
    draws: DrawStream,
) -> tuple[Portfolio, ...]:
    count = scale.portfolios
    n_composites = len(composite_specs)
    n_non_discretionary = max(1, round(scale.non_discretionary_share * count))
    needed = n_composites + scale.composite_entries + scale.composite_exits + n_non_discretionary
    if needed > count:
        raise ValueError(f"scale {scale.name} needs at least {needed} portfolios")
    # portfolio slots in a shuffled order: composite founders, entries, exits, non-discretionary, the rest
    order = rng.permutation(count).tolist()
    founders = order[:n_composites]
    entries = order[n_composites : n_composites + scale.composite_entries]
    exits = order[n_composites + scale.composite_entries : needed - n_non_discretionary]
    non_discretionary = set(order[needed - n_non_discretionary : needed])
    entry_set, exit_set = set(entries), set(exits)

    client_of = rng.permutation(count).tolist()  # first len(clients) slots give every client a portfolio
    names: set[str] = set()
    portfolios = []
    for slot in range(count):
        client = clients[client_of[slot] if client_of[slot] < len(clients) else draws.integer(0, len(clients))]
        discretionary = slot not in non_discretionary
        if not discretionary:
            strategy, bm_index = draws.choice([s for s in STRATEGIES if s[1] < len(benchmarks)])
            composite, benchmark_id = "", benchmarks[bm_index].benchmark_id
        else:
            spec = composite_specs[founders.index(slot)] if slot in founders else draws.choice(composite_specs)
            strategy, composite, benchmark_id = spec["strategy"], spec["id"], spec["benchmark_id"]
        inception = draws.integer(n_days // 5, n_days // 2) if slot in entry_set else 0
        termination = draws.integer(n_days // 2, n_days - 1) if slot in exit_set else None
        name = f"{client.client_name} {strategy}"
        suffix = 2
        while name in names:
            name = f"{client.client_name} {strategy} {suffix}"
            suffix += 1
        names.add(name)
        portfolios.append(
            Portfolio(
                portfolio_id=ids.portfolio_id(slot + 1),
                portfolio_name=name,
                client_id=client.client_id,
                strategy=strategy,
                benchmark_id=benchmark_id,
                composite_id=composite,
                base_currency=CURRENCY,
                fee_schedule=json.dumps(draws.choice(FEE_SCHEDULES)),
                discretionary=discretionary,
                inception_index=inception,
                termination_index=termination,
            )
        )
    return tuple(portfolios)


def csv_bool(value: bool) -> str:
    """Booleans as the CSV files spell them."""
    return "true" if value else "false"


def reference_tables(reference: ReferenceData, window: HistoryWindow) -> dict[str, tuple[list[str], list[list]]]:
    """The reference CSV files: relative path -> (header, rows)."""

    def day(index: int | None) -> str:
        """ISO date of a trading-day index; empty for None."""
        return "" if index is None else window.iso(index)

    return {
        "reference/clients.csv": (
            ["client_id", "client_name", "tenant_id", "aws_account_id", "salesforce_account_id", "region"],
            [
                [c.client_id, c.client_name, c.tenant_id, c.aws_account_id, c.salesforce_account_id, c.region]
                for c in reference.clients
            ],
        ),
        "reference/composites.csv": (
            [
                "composite_id",
                "composite_name",
                "strategy",
                "benchmark_id",
                "currency",
                "inception_date",
                "creation_date",
                "description",
                "min_portfolio_size",
                "significant_cash_flow_pct",
            ],
            [
                [
                    c.composite_id,
                    c.composite_name,
                    c.strategy,
                    c.benchmark_id,
                    c.currency,
                    day(c.inception_index),
                    day(c.creation_index),
                    c.description,
                    c.min_portfolio_size,
                    f"{c.significant_cash_flow_pct:.1f}",
                ]
                for c in reference.composites
            ],
        ),
        "reference/portfolios.csv": (
            [
                "portfolio_id",
                "portfolio_name",
                "client_id",
                "strategy",
                "benchmark_id",
                "composite_id",
                "base_currency",
                "fee_schedule",
                "discretionary",
                "inception_date",
                "termination_date",
            ],
            [
                [
                    p.portfolio_id,
                    p.portfolio_name,
                    p.client_id,
                    p.strategy,
                    p.benchmark_id,
                    p.composite_id,
                    p.base_currency,
                    p.fee_schedule,
                    csv_bool(p.discretionary),
                    day(p.inception_index),
                    day(p.termination_index),
                ]
                for p in reference.portfolios
            ],
        ),
        "reference/securities.csv": (
            ["security_id", "figi", "ticker", "security_name", "asset_class", "sector", "currency", "country"],
            [
                [s.security_id, s.figi, s.ticker, s.security_name, s.asset_class, s.sector, s.currency, s.country]
                for s in reference.securities
            ],
        ),
        "reference/benchmarks.csv": (
            ["benchmark_id", "benchmark_name", "provider", "currency"],
            [[b.benchmark_id, b.benchmark_name, b.provider, b.currency] for b in reference.benchmarks],
        ),
    }
