"""Budget planning: KPIs, spend response, scenarios and an optimiser, valued with CLV."""
