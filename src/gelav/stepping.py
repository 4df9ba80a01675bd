"""Old import path of :mod:`gelav.fd.stepping` (the factorised time steps); kept so existing code keeps working."""

from gelav.fd.stepping import StepOperator, Stepper, ThetaStepper

__all__ = ["StepOperator", "Stepper", "ThetaStepper"]
