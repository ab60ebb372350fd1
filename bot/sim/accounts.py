"""Balances, locks and fees, in integer atoms (1e-8 of a unit), so conservation is exact.

Invariant (checked by ``Ledger.total_funds``): for every asset, the sum of free + locked over all
accounts (the house included) plus the fees collected never changes after the accounts are opened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

ATOMS = 10**8


def to_atoms(amount: Decimal) -> int:
    """Decimal units -> integer atoms (truncating below 1e-8)."""
    return int(amount * ATOMS)


def fmt_atoms(atoms: int) -> str:
    """Atoms -> Binance's 8-decimal string, e.g. 150000000 -> '1.50000000'."""
    sign = "-" if atoms < 0 else ""
    whole, frac = divmod(abs(atoms), ATOMS)
    return f"{sign}{whole}.{frac:08d}"


class InsufficientBalanceError(Exception):
    """Free balance does not cover a lock or a payment."""


@dataclass(slots=True)
class Account:
    name: str
    api_key: str
    api_secret: str
    maker_fee: Fraction
    taker_fee: Fraction
    free: dict[str, int] = field(default_factory=dict)
    locked: dict[str, int] = field(default_factory=dict)
    update_time: int = 0

    def __repr__(self) -> str:  # never show the secret
        return f"Account({self.name!r})"


class Ledger:
    """All accounts and the fee pot."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.by_key: dict[str, Account] = {}
        self.fees: dict[str, int] = {}

    def open(self, account: Account) -> None:
        self.accounts[account.name] = account
        if account.api_key:
            self.by_key[account.api_key] = account

    def lock(self, acct: Account, asset: str, atoms: int) -> None:
        if atoms < 0 or acct.free.get(asset, 0) < atoms:
            raise InsufficientBalanceError(asset)
        acct.free[asset] -= atoms
        acct.locked[asset] = acct.locked.get(asset, 0) + atoms

    def unlock(self, acct: Account, asset: str, atoms: int) -> None:
        acct.locked[asset] -= atoms
        acct.free[asset] = acct.free.get(asset, 0) + atoms

    def pay_from_locked(self, acct: Account, asset: str, atoms: int) -> None:
        acct.locked[asset] -= atoms

    def pay_from_free(self, acct: Account, asset: str, atoms: int) -> None:
        if acct.free.get(asset, 0) < atoms:
            raise InsufficientBalanceError(asset)
        acct.free[asset] -= atoms

    def receive(self, acct: Account, asset: str, atoms: int, fee: int) -> None:
        """Credit ``atoms`` minus ``fee``; the fee goes to the pot."""
        acct.free[asset] = acct.free.get(asset, 0) + atoms - fee
        self.fees[asset] = self.fees.get(asset, 0) + fee

    def total_funds(self) -> dict[str, int]:
        """Per asset: sum of free + locked over all accounts plus fees collected (constant)."""
        total: dict[str, int] = dict(self.fees)
        for acct in self.accounts.values():
            for book in (acct.free, acct.locked):
                for asset, atoms in book.items():
                    total[asset] = total.get(asset, 0) + atoms
        return total


def fee_atoms(atoms: int, rate: Fraction) -> int:
    """Commission on a received amount, rounded down to whole atoms."""
    return atoms * rate.numerator // rate.denominator
