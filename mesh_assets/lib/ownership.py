"""Who owns which layer: owners, groups and tags shared by every asset of a layer."""

DATA_PLATFORM = "team:data-platform"
MARKET_DATA = "team:market-data"
CLIENT_SERVICES = "team:client-services"
INVESTMENT_OPERATIONS = "team:investment-operations"
PERFORMANCE = "team:performance-measurement"
COMPLIANCE = "team:compliance"
