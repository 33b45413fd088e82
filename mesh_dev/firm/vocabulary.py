"""The synthetic firm's vocabulary: client names and kinds, regions, benchmarks, strategies, composite variants,
fee schedules, sectors and issuer words the reference data is drawn from."""

from __future__ import annotations

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
