"""Scalar values as text, the way Flink's text formats read and write them.

A port of the Rust SDK's `weir_text` (same layouts, same checks), so a Python
format reads and writes exactly what the Rust one does. Values are in batch
units: DATE is days since the epoch, TIME(p) and TIMESTAMP(p) are seconds,
milliseconds, microseconds or nanoseconds by precision, DECIMAL is the
unscaled integer.
"""

import base64
import binascii
import decimal
import math
import struct

from . import types as t

NANOS_PER_SECOND = 1_000_000_000
SECONDS_PER_DAY = 86_400

_INT_RANGES = {
    "TINYINT": (-(1 << 7), (1 << 7) - 1),
    "SMALLINT": (-(1 << 15), (1 << 15) - 1),
    "INT": (-(1 << 31), (1 << 31) - 1),
    "BIGINT": (-(1 << 63), (1 << 63) - 1),
}


def excerpt(text):
    """The first 40 characters of `text`, for error messages."""
    return text[:40]


# ---------------------------------------------------------------------------
# Booleans and numbers
# ---------------------------------------------------------------------------


def parse_bool(s):
    low = s.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    raise ValueError(f"'{excerpt(s)}' is not a BOOLEAN (true or false)")


def _is_digits(s):
    return s != "" and all("0" <= c <= "9" for c in s)


def parse_int(s, type_name):
    body = s[1:] if s[:1] in ("-", "+") else s
    if not _is_digits(body):
        raise ValueError(f"'{excerpt(s)}' is not an integer ({type_name})")
    v = int(s)
    lo, hi = _INT_RANGES[type_name]
    if not lo <= v <= hi:
        raise ValueError(f"{excerpt(s) if len(body) > 38 else v} is out of range for {type_name}")
    return v


def _f32(v):
    """`v` rounded to the nearest FLOAT (infinite beyond its range)."""
    try:
        return struct.unpack("<f", struct.pack("<f", v))[0]
    except OverflowError:
        return math.copysign(math.inf, v)


def parse_float(s, type_name):
    normal = {"Infinity": "inf", "+Infinity": "inf", "-Infinity": "-inf"}.get(s, s)
    low = normal.lower()
    # Rust's f64 parser takes `inf`, `infinity` and `nan` in any case, and
    # plain decimal / scientific notation, but no underscores or spaces.
    if not normal or "_" in normal or normal.strip() != normal or low in ("+nan", "-nan"):
        raise ValueError(f"'{excerpt(s)}' is not a number ({type_name})")
    try:
        v = float(normal)
    except ValueError:
        raise ValueError(f"'{excerpt(s)}' is not a number ({type_name})") from None
    return _f32(v) if type_name == "FLOAT" else v


def _shortest(v, single):
    """Shortest digits that read back as `v` (as f32 when `single`)."""
    if not single:
        return repr(v)
    for precision in range(1, 10):
        text = "%.*g" % (precision, v)
        if _f32(float(text)) == v:
            return text
    return repr(v)


def write_float(v, single=False):
    """A DOUBLE (or with `single` a FLOAT) as Java's `Double.toString`:
    `1.0`, `0.001`, `1.0E7`, `1.5E-4`, `NaN`, `Infinity`."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    negative = math.copysign(1.0, v) < 0
    sign, digits, exp = decimal.Decimal(_shortest(abs(v), single)).as_tuple()
    digits = list(digits)
    while digits and digits[-1] == 0:
        digits.pop()
        exp += 1
    while digits and digits[0] == 0:
        digits.pop(0)
    out = "-" if negative else ""
    if not digits:
        return out + "0.0"
    e = len(digits) - 1 + exp  # value = d.ddd × 10^e
    ds = "".join(map(str, digits))
    plain = 1e-3 <= abs(v) < 1e7
    if plain:
        if e < 0:
            return out + "0." + "0" * (-e - 1) + ds
        whole = e + 1
        if len(ds) <= whole:
            return out + ds + "0" * (whole - len(ds)) + ".0"
        return out + ds[:whole] + "." + ds[whole:]
    return out + ds[0] + "." + (ds[1:] or "0") + "E" + str(e)


# ---------------------------------------------------------------------------
# Decimals
# ---------------------------------------------------------------------------


def parse_decimal(s, precision, scale):
    """DECIMAL(precision, scale) text to its unscaled value; never rounds."""
    bad = ValueError(f"'{excerpt(s)}' is not a DECIMAL({precision}, {scale})")
    negative, body = (True, s[1:]) if s[:1] == "-" else ((False, s[1:]) if s[:1] == "+" else (False, s))
    cut = min([i for i in (body.find("e"), body.find("E")) if i >= 0], default=-1)
    exp = 0
    if cut >= 0:
        number, exp_text = body[:cut], body[cut + 1 :]
        e_body = exp_text[1:] if exp_text[:1] in ("-", "+") else exp_text
        if not _is_digits(e_body):
            raise bad
        exp = int(exp_text)
    else:
        number = body
    int_part, _, frac_part = number.partition(".")
    if (int_part == "" and frac_part == "") or not all("0" <= c <= "9" for c in int_part + frac_part):
        raise bad
    digits = (int_part + frac_part).lstrip("0")
    point = len(frac_part) - exp
    while point > scale:
        if digits == "" or digits[-1] == "0":
            digits = digits[:-1]
            point -= 1
        else:
            raise ValueError(
                f"{excerpt(s)} has more than {scale} digits after the point: "
                f"DECIMAL({precision}, {scale}) would round it"
            )
    zeros = scale - point
    if digits and len(digits) + zeros > precision:
        raise ValueError(f"{excerpt(s)} does not fit DECIMAL({precision}, {scale})")
    unscaled = int(digits + "0" * zeros) if digits else 0
    return -unscaled if negative else unscaled


def write_decimal(unscaled, scale):
    """An unscaled DECIMAL value as plain text (`toPlainString`)."""
    sign = "-" if unscaled < 0 else ""
    digits = str(abs(unscaled))
    if scale == 0:
        return sign + digits
    if len(digits) > scale:
        return sign + digits[:-scale] + "." + digits[-scale:]
    return sign + "0." + "0" * (scale - len(digits)) + digits


# ---------------------------------------------------------------------------
# Dates and times
# ---------------------------------------------------------------------------


def days_from_civil(year, month, day):
    y = year - 1 if month <= 2 else year
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month - 3 if month > 2 else month + 9) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def civil_from_days(days):
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if month <= 2 else 0), month, day


def _days_in_month(year, month):
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def parse_date(s):
    """`yyyy-MM-dd` (month and day may have one digit) to days since the epoch."""
    bad = ValueError(f"'{excerpt(s)}' is not a DATE (yyyy-MM-dd)")
    parts = s.split("-", 2)
    if len(parts) != 3:
        raise bad
    y, m, d = parts
    if not (len(y) == 4 and _is_digits(y) and 1 <= len(m) <= 2 and _is_digits(m) and 1 <= len(d) <= 2 and _is_digits(d)):
        raise bad
    y, m, d = int(y), int(m), int(d)
    if not 1 <= m <= 12 or d == 0 or d > _days_in_month(y, m):
        raise ValueError(f"'{excerpt(s)}' is not a valid date")
    return days_from_civil(y, m, d)


def write_date(days):
    y, m, d = civil_from_days(days)
    return f"{y:04}-{m:02}-{d:02}"


def units_per_second(p):
    return 1 if p == 0 else 1_000 if p <= 3 else 1_000_000 if p <= 6 else NANOS_PER_SECOND


def _nanos_of_day(s, precision, type_name):
    bad = ValueError(f"'{excerpt(s)}' is not a {type_name} (HH:mm:ss[.fff])")

    def two(at):
        pair = s[at : at + 2]
        if len(pair) == 2 and _is_digits(pair):
            return int(pair)
        raise bad

    h = two(0)
    if s[2:3] != ":":
        raise bad
    m = two(3)
    if len(s) == 5:
        sec, at = 0, 5
    elif s[5:6] == ":":
        sec, at = two(6), 8
    else:
        raise bad
    if h > 23 or m > 59 or sec > 59:
        raise bad
    nanos = 0
    if at < len(s):
        frac = s[at + 1 :]
        if at != 8 or s[at] != "." or not 1 <= len(frac) <= 9 or not _is_digits(frac):
            raise bad
        if len(frac.rstrip("0")) > precision:
            raise ValueError(
                f"{excerpt(s)} has more fractional digits than {type_name}({precision}) keeps; it would be truncated"
            )
        nanos = int(frac.ljust(9, "0"))
    return (h * 3600 + m * 60 + sec) * NANOS_PER_SECOND + nanos


def parse_time(s, precision):
    return _nanos_of_day(s, precision, "TIME") // (NANOS_PER_SECOND // units_per_second(precision))


def _write_nanos_of_day(nanos):
    secs = nanos // NANOS_PER_SECOND
    out = f"{secs // 3600:02}:{secs // 60 % 60:02}:{secs % 60:02}"
    frac = nanos % NANOS_PER_SECOND
    if frac:
        out += "." + f"{frac:09}".rstrip("0")
    return out


def write_time(value, precision):
    nanos = value * (NANOS_PER_SECOND // units_per_second(precision))
    if not 0 <= nanos < SECONDS_PER_DAY * NANOS_PER_SECOND:
        raise ValueError(f"{value} is not a time of day for TIME({precision})")
    return _write_nanos_of_day(nanos)


def parse_timestamp(s, precision, ltz=False):
    """`yyyy-MM-dd HH:mm:ss[.fff]` (with `Z` for TIMESTAMP_LTZ) in batch units."""
    type_name = "TIMESTAMP_LTZ" if ltz else "TIMESTAMP"
    layout = ValueError(f"'{excerpt(s)}' is not a {type_name} (yyyy-MM-dd HH:mm:ss[.fff]{'Z' if ltz else ''})")
    body = s
    if ltz:
        if not s.endswith("Z"):
            raise layout
        body = s[:-1]
    if body[10:11] == " ":
        date, time = body[:10], body[11:]
    elif " " in body:
        date, time = body.split(" ", 1)
    else:
        raise layout
    try:
        days = parse_date(date)
    except ValueError:
        raise layout from None
    try:
        nanos = _nanos_of_day(time, precision, type_name)
    except ValueError as e:
        if "fractional" in str(e):
            raise
        raise layout from None
    unit = units_per_second(precision)
    value = days * SECONDS_PER_DAY * unit + nanos // (NANOS_PER_SECOND // unit)
    if not -(1 << 63) <= value < (1 << 63):
        raise ValueError(f"{excerpt(s)} is out of range for {type_name}({precision})")
    return value


def write_timestamp(value, precision, ltz=False):
    unit = units_per_second(precision)
    secs, sub = divmod(value, unit)
    days, rest = divmod(secs, SECONDS_PER_DAY)
    text = write_date(days) + " " + _write_nanos_of_day(rest * NANOS_PER_SECOND + sub * (NANOS_PER_SECOND // unit))
    return text + "Z" if ltz else text


# ---------------------------------------------------------------------------
# Bytes
# ---------------------------------------------------------------------------


def parse_base64(s):
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"'{excerpt(s)}' is not base64: {e}") from None


def write_base64(b):
    return base64.b64encode(b).decode("ascii")


# ---------------------------------------------------------------------------
# Any scalar type
# ---------------------------------------------------------------------------


def parse(ty, text):
    """Parses `text` as a value of logical type `ty` (trimmed first, except
    strings), in batch units."""
    k = type(ty)
    s = text.strip()
    if k in (t.LogicalType_Char, t.LogicalType_Varchar, t.LogicalType_String):
        return text
    if k is t.LogicalType_Boolean:
        return parse_bool(s)
    if k in _INT_NAMES:
        return parse_int(s, _INT_NAMES[k])
    if k is t.LogicalType_Float:
        return parse_float(s, "FLOAT")
    if k is t.LogicalType_Double:
        return parse_float(s, "DOUBLE")
    if k is t.LogicalType_Decimal:
        return parse_decimal(s, ty.value.precision, ty.value.scale)
    if k in (t.LogicalType_Binary, t.LogicalType_Varbinary, t.LogicalType_Bytes):
        return parse_base64(s)
    if k is t.LogicalType_Date:
        return parse_date(s)
    if k is t.LogicalType_Time:
        return parse_time(s, ty.value)
    if k is t.LogicalType_Timestamp:
        return parse_timestamp(s, ty.value)
    if k is t.LogicalType_TimestampLtz:
        return parse_timestamp(s, ty.value, ltz=True)
    raise ValueError("nested types have no text form in this format")


def write(ty, value):
    """`value` of logical type `ty` (batch units) as text; None is ""."""
    if value is None:
        return ""
    k = type(ty)
    if k in (t.LogicalType_Char, t.LogicalType_Varchar, t.LogicalType_String):
        return value
    if k is t.LogicalType_Boolean:
        return "true" if value else "false"
    if k in _INT_NAMES:
        return str(value)
    if k is t.LogicalType_Float:
        return write_float(value, single=True)
    if k is t.LogicalType_Double:
        return write_float(value)
    if k is t.LogicalType_Decimal:
        return write_decimal(value, ty.value.scale)
    if k in (t.LogicalType_Binary, t.LogicalType_Varbinary, t.LogicalType_Bytes):
        return write_base64(value)
    if k is t.LogicalType_Date:
        return write_date(value)
    if k is t.LogicalType_Time:
        return write_time(value, ty.value)
    if k is t.LogicalType_Timestamp:
        return write_timestamp(value, ty.value)
    if k is t.LogicalType_TimestampLtz:
        return write_timestamp(value, ty.value, ltz=True)
    raise ValueError("nested types have no text form in this format")


_INT_NAMES = {
    t.LogicalType_Tinyint: "TINYINT",
    t.LogicalType_Smallint: "SMALLINT",
    t.LogicalType_Int: "INT",
    t.LogicalType_Bigint: "BIGINT",
}
