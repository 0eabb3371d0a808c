"""The ChainfinError hierarchy, split by who is at fault."""


class ChainfinError(Exception):
    """Base of every error chainfin raises on purpose."""


class CodecError(ChainfinError):
    """Bytes or values that are not valid canonical chainfin encoding."""


class InvalidMessage(ChainfinError):
    """A peer's fault: drop the message, count it."""


class InvalidSignature(InvalidMessage):
    """A signature that does not verify for the claimed key and domain."""


class InvalidTransaction(ChainfinError):
    """A client's fault: the transaction is refused with a 4xx."""

    status_hint = 400
    code = "invalid_transaction"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ContractError(InvalidTransaction):
    """Raised by a contract method: the transaction is rejected, the block is fine.

    ``events`` ((name, data) pairs) are published with the rejected receipt although none of the
    transaction's writes are kept: a refusal others must hear of (a duplicate_attempt).
    """

    code = "contract_error"

    def __init__(self, message: str, code: str | None = None,
                 events: tuple[tuple[str, dict[str, object]], ...] = ()) -> None:
        super().__init__(message, code)
        self.events = events


class StorageError(ChainfinError):
    """Fatal: the node stops rather than limp on."""


class ConfigError(ChainfinError):
    """A bad config, genesis or key file."""
