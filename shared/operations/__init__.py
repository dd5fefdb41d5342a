"""Operations: the handlers callers run by name, their declared parameters, and their context."""

from .context import OperationContext
from .registry import OperationDefinition, OperationRegistry, Parameter, ParamType

__all__ = ["OperationContext", "OperationDefinition", "OperationRegistry", "Parameter", "ParamType"]
