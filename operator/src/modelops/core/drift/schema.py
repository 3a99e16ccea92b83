"""Schema checks of logged data against a model signature: missing, new and wrong-typed columns.

Owns the comparison of the columns the drift job found (name → type as the data store spells
it: Arrow's ``double``, ``int64``, ``string``, ``bool``, ... or MLflow's) with the ModelVersion's
signature (``spec.signature.inputs``: name → MLflow type). Types are compared by family
(floating, integer, boolean, string, binary, datetime); an integer column where the signature
says floating is accepted (it widens losslessly, MLflow's own schema enforcement does the same),
everything else across families is wrong-typed. Unknown type names compare by exact name.
Evidently has no counterpart: its data drift reports raise on a missing column and coerce types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

_FAMILIES: dict[str, str] = {
    **dict.fromkeys(("double", "float", "float32", "float64", "float16", "halffloat", "decimal"), "floating"),
    **dict.fromkeys(
        ("long", "integer", "int", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"),
        "integer",
    ),
    **dict.fromkeys(("boolean", "bool"), "boolean"),
    **dict.fromkeys(("string", "str", "large_string", "utf8", "large_utf8", "dictionary<string>"), "string"),
    **dict.fromkeys(("binary", "bytes", "large_binary"), "binary"),
    **dict.fromkeys(("datetime", "timestamp", "date32", "date64", "date"), "datetime"),
}


def type_family(type_name: str) -> str:
    """The family of a type name (``timestamp[us]`` → datetime, ``int64`` → integer)."""
    base = type_name.strip().lower().split("[", 1)[0]
    return _FAMILIES.get(base, base)


def compatible(expected: str, observed: str) -> bool:
    """Whether data of type ``observed`` satisfies a signature type ``expected``."""
    want, got = type_family(expected), type_family(observed)
    return want == got or (want == "floating" and got == "integer")


@dataclass(frozen=True)
class SchemaReport:
    """Columns of the signature absent from the data, columns not in the signature, and
    columns present with an incompatible type (name → (expected, observed))."""

    missing: tuple[str, ...]
    new: tuple[str, ...]
    wrong_type: dict[str, tuple[str, str]]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.new or self.wrong_type)

    def violation(self, column: str) -> float:
        """The schema statistic of one column: 1.0 when missing or wrong-typed, else 0.0."""
        return 1.0 if column in self.missing or column in self.wrong_type else 0.0


def check_schema(signature: Mapping[str, str], observed: Mapping[str, str]) -> SchemaReport:
    """Compare observed column types with the signature's."""
    missing = tuple(sorted(set(signature) - set(observed)))
    new = tuple(sorted(set(observed) - set(signature)))
    wrong = {
        name: (signature[name], observed[name])
        for name in sorted(set(signature) & set(observed))
        if not compatible(signature[name], observed[name])
    }
    return SchemaReport(missing, new, wrong)
