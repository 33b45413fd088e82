"""The firm's reference data: clients, composites, portfolios, securities and benchmarks."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from mesh_dev.firm import identifiers as ids
from mesh_dev.firm.history_window import HistoryWindow
from mesh_dev.firm.randomness import DrawStream
from mesh_dev.firm.scales import FirmScale
from mesh_dev.firm.vocabulary import (
    BENCHMARKS,
    CLIENT_KINDS,
    CLIENT_NAMES,
    COMPOSITE_VARIANTS,
    COUNTRY,
    CURRENCY,
    ETF_SHARE,
    FEE_SCHEDULES,
    ISSUER_SUFFIXES,
    ISSUER_WORDS,
    MIN_PORTFOLIO_SIZES,
    REGIONS,
    SECTOR_WORDS,
    SECTORS,
    SIGNIFICANT_CASH_FLOW_PCTS,
    STRATEGIES,
)


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
