"""Schemathesis hooks: what the OpenAPI document cannot say, told to the generator.

A phone number must be valid for its calling code: a rule of the numbering plans that
JSON Schema cannot express (the document says so in `phone_number`'s description, and
its pattern only says which characters a number may hold). Test cases meant to be valid
(`positive`) therefore get a real number of a real country instead of the random digits
the pattern allows; the format (leading `+` or not, surrounding whitespace) stays as
generated. Cases meant to be invalid (`negative`) are left as they are.
"""

import zlib

import schemathesis
from schemathesis.generation.modes import GenerationMode

# Valid numbers, as people type them, one per numbering plan the domain's phone tests cover.
NUMBERS = [
    ("82", "010-1234-5678"),
    ("82", "02-312-3456"),
    ("1", "(201) 555-0123"),
    ("44", "020 7946 0018"),
    ("49", "030 123456"),
    ("81", "090-1234-5678"),
    ("33", "06 12 34 56 78"),
    ("91", "98765 43210"),
    ("55", "(11) 91234-5678"),
    ("61", "0412 345 678"),
]


def _keep_format(generated: str, code: str) -> str:
    """`code` written the way the generated calling code was: its whitespace and `+`."""
    stripped = generated.strip()
    lead = generated[: len(generated) - len(generated.lstrip())]
    trail = generated[len(generated.rstrip()):]
    plus = "+" if stripped.startswith("+") else ""
    return f"{lead}{plus}{code}{trail}"


@schemathesis.hook
def map_case(context, case):
    meta = getattr(case, "meta", None)
    if meta is None or meta.generation.mode != GenerationMode.POSITIVE:
        return case
    body = case.body
    if not isinstance(body, dict):
        return case
    code, number = body.get("country_code"), body.get("phone_number")
    if isinstance(code, str) and isinstance(number, str):
        pick = zlib.crc32(number.encode("utf-8", "surrogatepass")) % len(NUMBERS)
        real_code, real_number = NUMBERS[pick]
        body["country_code"] = _keep_format(code, real_code)
        body["phone_number"] = real_number
    return case
