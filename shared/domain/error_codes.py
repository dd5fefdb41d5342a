"""``errorcode`` values this app records (Dataverse's numbering, as signed 32-bit ints)."""

HANDLER_FAILED = -2147220891  # 0x80040265: an error raised by the operation's code
UNEXPECTED = -2147220970  # 0x80040216: the platform failed (worker lost, poison queue)
NOT_REGISTERED = -2147220969  # 0x80040217: the operation's handler no longer exists
# This app's own (not Dataverse's): the handler's outputs are larger than an operation may keep (1 MiB).
OUTPUTS_TOO_LARGE = -2147176447  # 0x8004B001
# This app's own: an attempt ran past its time limit (it is retried), or a run inside a request did.
TIME_LIMIT_EXCEEDED = -2147176446  # 0x8004B002


def as_int32(code: int) -> int:
    """A code as the signed 32-bit int Table Storage and Dataverse hold (0x80040265 -> -2147220891)."""
    return ((code & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000


def as_hex(code: int) -> str:
    """A code as Dataverse writes it in error bodies (-2147220891 -> '0x80040265')."""
    return f"0x{code & 0xFFFFFFFF:08X}"
