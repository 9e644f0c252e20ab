"""From a decoded log to rows: the generic `events` row and one typed row per event kind."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

# event name -> (typed table, action, function(args) -> column dict)
_ZERO32 = "0x" + "00" * 32


def hexstr(value: bytes | bytearray | str) -> str:
    if isinstance(value, str):
        return value.lower() if value.startswith("0x") else "0x" + value.lower()
    return "0x" + bytes(value).hex()


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return hexstr(value)
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def plain_args(args: Any) -> dict[str, Any]:
    """Event arguments as JSON-ready values: bytes as 0x hex, addresses checksummed, ints kept,
    arrays as lists of the same."""
    return {name: _plain(value) for name, value in dict(args).items()}


def args_json(args: dict[str, Any]) -> str:
    # uint64/uint256 values may exceed what some JSON readers hold exactly: write big ints as strings.
    return json.dumps(
        {
            k: (str(v) if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2**53 else v)
            for k, v in args.items()
        },
        sort_keys=True,
    )


def actor_of(event: str, args: dict[str, Any], tx_sender: str | None) -> str | None:
    """Who caused the event: the account the event names as acting, else the transaction's sender."""
    field = {
        "ConsentGranted": "patient",
        "ConsentRevoked": "patient",
        "EncryptionKeySet": "account",
        "RecordAdded": "author",
        "RecordErased": "patient",
        "AccessLogged": "accessor",
        "GuardianAppointed": "appointedBy",
        "GuardianRemoved": "removedBy",
        "EmergencyAccessOpened": "provider",
        "EmergencyAccessClosed": "closedBy",
        "EmergencyPreferencesSet": "patient",
        "ProviderRegistered": "registrar",
        "ProviderSuspended": "registrar",
        "ProviderReinstated": "registrar",
        "RoleGranted": "sender",
        "RoleRevoked": "sender",
        "ServiceEndpointSet": "service",
    }.get(event)
    return args.get(field) if field else tx_sender


@dataclass(frozen=True)
class TypedRow:
    table: str
    columns: dict[str, Any]


def typed_row(event: str, a: dict[str, Any]) -> TypedRow | None:
    """The typed-table row for an event (None for events kept only in `events`)."""
    if event == "ConsentGranted":
        return TypedRow(
            "consent_changes",
            dict(
                action="granted",
                patient=a["patient"],
                grantee=a["grantee"],
                categories=str(a["categories"]),
                purposes=a["purposes"],
                permissions=a["permissions"],
                expiry=a["expiry"],
            ),
        )
    if event == "ConsentRevoked":
        return TypedRow("consent_changes", dict(action="revoked", patient=a["patient"], grantee=a["grantee"]))
    if event == "RecordAdded":
        return TypedRow(
            "record_changes",
            dict(
                action="added",
                patient=a["patient"],
                digest=a["digest"],
                author=a["author"],
                codec=a["codec"],
                category=a["category"],
                supersedes=None if a["supersedes"] == _ZERO32 else a["supersedes"],
            ),
        )
    if event == "RecordErased":
        return TypedRow("record_changes", dict(action="erased", patient=a["patient"], digest=a["digest"]))
    if event == "AccessLogged":
        return TypedRow(
            "access_logs", dict(patient=a["patient"], digest=a["digest"], accessor=a["accessor"], purpose=a["purpose"])
        )
    if event == "GuardianAppointed":
        return TypedRow(
            "guardian_changes",
            dict(
                action="appointed",
                patient=a["patient"],
                guardian=a["guardian"],
                until_time=a["until"],
                can_appoint=int(a["canAppoint"]),
                changed_by=a["appointedBy"],
            ),
        )
    if event == "GuardianRemoved":
        return TypedRow(
            "guardian_changes",
            dict(action="removed", patient=a["patient"], guardian=a["guardian"], changed_by=a["removedBy"]),
        )
    if event == "EmergencyAccessOpened":
        return TypedRow(
            "emergency_events",
            dict(
                action="opened", patient=a["patient"], provider=a["provider"], reason=a["reason"], until_time=a["until"]
            ),
        )
    if event == "EmergencyAccessClosed":
        return TypedRow(
            "emergency_events",
            dict(action="closed", patient=a["patient"], provider=a["provider"], closed_by=a["closedBy"]),
        )
    if event == "EmergencyPreferencesSet":
        return TypedRow(
            "emergency_events",
            dict(
                action="preferences",
                patient=a["patient"],
                opted_out=int(a["optedOut"]),
                categories=str(a["categories"]),
            ),
        )
    if event in ("ProviderRegistered", "ProviderSuspended", "ProviderReinstated"):
        action = {
            "ProviderRegistered": "registered",
            "ProviderSuspended": "suspended",
            "ProviderReinstated": "reinstated",
        }[event]
        return TypedRow(
            "provider_changes",
            dict(action=action, account=a["provider"], kind=a.get("kind"), changed_by=a["registrar"]),
        )
    if event in ("RoleGranted", "RoleRevoked"):
        return TypedRow(
            "provider_changes",
            dict(
                action="role_granted" if event == "RoleGranted" else "role_revoked",
                account=a["account"],
                role=a["role"],
                changed_by=a["sender"],
            ),
        )
    if event == "EncryptionKeySet":
        return TypedRow("key_changes", dict(action="encryption_key", account=a["account"], public_key=a["publicKey"]))
    if event == "ServiceSetProposed":
        return TypedRow(
            "service_changes",
            dict(
                action="proposed",
                version=a["version"],
                members=json.dumps([to_checksum_address(m) for m in a["members"]]),
                threshold=a["threshold"],
                activates_at=a["activatesAt"],
            ),
        )
    if event == "ServiceSetCancelled":
        return TypedRow("service_changes", dict(action="cancelled", version=a["version"]))
    if event == "ServiceEndpointSet":
        return TypedRow("service_changes", dict(action="endpoint", service=a["service"], url=a["url"]))
    return None
