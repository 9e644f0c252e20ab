"""ERC-20 settlement tokens: the money claims and studies move.

Amounts travel as integers in the token's smallest unit; people read and type them in whole units
(`12.50` of a 6-decimal token is 12_500_000). `parse_amount` refuses what cannot be exact rather
than rounding, since a rounded payment is a wrong payment.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import cached_property

from eth_utils import to_checksum_address

from medledger.chain.accounts import Signer
from medledger.chain.artifacts import load_artifact
from medledger.chain.connection import Chain
from medledger.chain.reverts import RevertDecoder
from medledger.chain.transactions import Receipt, TransactionSender, TxPolicy
from medledger.ledger.base import InvalidArgumentError, ModuleClient, checked_address

TOKEN_CONTRACT = "SettlementToken"
MAX_UINT256 = 2**256 - 1


def parse_amount(text: str, decimals: int) -> int:
    """`text` in whole units (`"12.5"`) as an integer of the smallest unit; refuses what is not exact."""
    try:
        value = Decimal(str(text).strip().replace("_", ""))
    except InvalidOperation:
        raise InvalidArgumentError(f"amount {text!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise InvalidArgumentError(f"amount {text!r} must be a non-negative number")
    raw = value.scaleb(decimals)
    if raw != raw.to_integral_value():
        raise InvalidArgumentError(f"amount {text!r} has more than the token's {decimals} decimal places")
    if raw > MAX_UINT256:
        raise InvalidArgumentError(f"amount {text!r} is too large")
    return int(raw)


def format_amount(raw: int, decimals: int, symbol: str) -> str:
    """`12500000, 6, "USDC"` -> `"12.50 USDC"`: at least two decimals, trailing zeros beyond dropped."""
    whole, fraction = divmod(int(raw), 10**decimals) if decimals else (int(raw), 0)
    digits = f"{fraction:0{decimals}d}".rstrip("0") if decimals else ""
    digits = digits.ljust(min(2, decimals), "0")
    return f"{whole}{'.' + digits if digits else ''} {symbol}".strip()


class TokenClient(ModuleClient):
    """An ERC-20 (any compliant token; `mint` only on a SettlementToken).

    >>> usdc = TokenClient(chain, address, signer=insurer)
    >>> usdc.approve(claims.address, parse_amount("1000", usdc.decimals))
    """

    def __init__(self, chain: Chain, address: str, *, signer: Signer | None = None, policy: TxPolicy | None = None):
        abi = load_artifact(TOKEN_CONTRACT).abi
        self.chain = chain
        self.policy = policy
        contract = chain.w3.eth.contract(address=to_checksum_address(checked_address(address, "token")), abi=abi)
        super().__init__(contract, TransactionSender(chain, RevertDecoder(abi), policy), signer)

    def as_signer(self, signer: Signer) -> TokenClient:
        return TokenClient(self.chain, self.address, signer=signer, policy=self.policy)

    @cached_property
    def symbol(self) -> str:
        return str(self._call(self.functions.symbol()))

    @cached_property
    def decimals(self) -> int:
        return int(self._call(self.functions.decimals()))

    def format(self, raw: int) -> str:
        return format_amount(raw, self.decimals, self.symbol)

    def parse(self, text: str) -> int:
        return parse_amount(text, self.decimals)

    def balance_of(self, account: str) -> int:
        return int(self._call(self.functions.balanceOf(checked_address(account, "account"))))

    def allowance(self, owner: str, spender: str) -> int:
        owner, spender = checked_address(owner, "owner"), checked_address(spender, "spender")
        return int(self._call(self.functions.allowance(owner, spender)))

    def total_supply(self) -> int:
        return int(self._call(self.functions.totalSupply()))

    def approve(self, spender: str, amount: int) -> Receipt:
        return self._send(self.functions.approve(checked_address(spender, "spender"), _amount(amount)))

    def transfer(self, to: str, amount: int) -> Receipt:
        return self._send(self.functions.transfer(checked_address(to, "recipient"), _amount(amount)))

    def mint(self, to: str, amount: int) -> Receipt:
        """Create tokens (a SettlementToken, by its deployer only)."""
        return self._send(self.functions.mint(checked_address(to, "recipient"), _amount(amount)))


def deploy_token(
    chain: Chain, signer: Signer, name: str, symbol: str, decimals: int, *, policy: TxPolicy | None = None
) -> TokenClient:
    """Deploy a SettlementToken (devnets, demos, tests) minted by `signer`."""
    if not 0 <= int(decimals) <= 36:
        raise InvalidArgumentError(f"decimals must be between 0 and 36, not {decimals}")
    if not name or not symbol:
        raise InvalidArgumentError("a token needs a name and a symbol")
    artifact = load_artifact(TOKEN_CONTRACT)
    factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = TransactionSender(chain, RevertDecoder(artifact.abi), policy).deploy(
        signer, factory.constructor(name, symbol, int(decimals))
    )
    address = to_checksum_address(receipt.raw["contractAddress"])
    return TokenClient(chain, address, signer=signer, policy=policy)


def _amount(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_UINT256:
        raise InvalidArgumentError(f"amount {value!r} must be a whole number of the token's smallest unit")
    return value
