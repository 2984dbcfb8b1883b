"""The simulator with known truth, in small modules; :mod:`workbench.simulate` is the facade.

- ``scenarios``: every true parameter, in one place (conversion model, spend, reach, CLV).
- ``response``: the true conversion probability of a journey from its exposures.
- ``shapley``: exact Shapley values (and removal effects) of any conversion probability.
- ``spend``: weekly spend per channel and the diminishing spend -> touches curve.
- ``journeys``: users, their active windows, touches, decision times and exposures.
- ``world``: one simulated world (spend -> touches -> exposures -> credit) and counterfactuals.
- ``purchases``: first orders and BG/NBD + Gamma-Gamma repeat purchases; expected CLV.
- ``truth``: the truth dictionary and the true outcomes under spend multipliers.
"""
