"""Run tags more than one domain reads (a sensor sets them on the runs it requests)."""

#: The Salesforce change set (``contracts-<hash>`` of its ``(Id, SystemModstamp)`` versions) a run was requested for:
#: set by ``salesforce_contract_sensor``, recorded by the bronze Salesforce copies and the entitlement reconcile.
CHANGE_SET_TAG = "mesh/change-set"
