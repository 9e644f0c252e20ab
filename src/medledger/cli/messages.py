"""Plain sentences for the contracts' refusals.

`chain/reverts.py` decodes a revert into a `ContractRevertError` carrying the custom error's name
and arguments; this module, which only the CLI uses, says the same thing in words for people:
`EmergencyOptOut(patient=0xAb..)` becomes "the patient 0xAb.. has opted out of break-glass".
Times are shown as UTC dates, durations in days/hours, roles, categories, purposes and provider
kinds by name. Every custom error in the shipped ABIs has a sentence (a test checks it); an error
without one falls back to its decoded form, `Name(arg=value, ...)`.

It lives in the CLI, not beside the decoder, because the sentences are presentation: library
callers catch the error classes and read `.error` / `.arguments`, and the chain layer knows
nothing of what a category or a purpose of use is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from eth_utils import keccak

from medledger.scopes import Purpose, category_name

ROLE_NAMES: dict[bytes, str] = {
    b"\x00" * 32: "admin",
    keccak(text="medledger.REGISTRAR"): "registrar",
    keccak(text="medledger.PAUSER"): "pauser",
}
_CLAIM_STATUS = {
    0: "unknown",
    1: "submitted",
    2: "pended",
    3: "approved",
    4: "denied",
    5: "paid",
    6: "appealed",
    7: "withdrawn",
}
_STUDY_STATUS = {0: "unknown", 1: "open", 2: "suspended", 3: "closed"}
_TERMS = {
    "token": "token (not a contract)",
    "maxParticipants": "number of places (at least 1)",
    "reward": "reward (positive, and places x reward below 2^256)",
    "categories": "category set (at least one)",
    "enrolmentEnd": "enrolment deadline (in the future)",
    "end": "end (after enrolment closes, within the ledger's longest consent)",
    "protocol": "protocol document (a CID digest, raw or dag-pb)",
    "approval": "approval document (a CID digest, raw or dag-pb)",
}
_KINDS = {0: "none", 1: "clinician", 2: "organization", 3: "researcher", 4: "insurer", 5: "auditor"}


def when(value: Any) -> str:
    """A unix time as a UTC date and time, e.g. `2027-03-01 12:00 UTC`."""
    try:
        moment = datetime.fromtimestamp(int(value), UTC)
    except (OverflowError, OSError, ValueError, TypeError):
        return f"unix time {value}"
    if moment.second:
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def duration(value: Any) -> str:
    """Seconds as days, hours, minutes and seconds: `2 days 3 hours`."""
    seconds = int(value)
    if seconds == 0:
        return "0 seconds"
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts)


def role(value: Any) -> str:
    """A role by name (`registrar`), or its hash when it is not one of medledger's."""
    raw = bytes(value) if isinstance(value, (bytes, bytearray)) else b""
    return ROLE_NAMES.get(raw, "0x" + raw.hex() if raw else str(value))


def kind(value: Any) -> str:
    return _KINDS.get(int(value), f"kind {value}")


def purpose(value: Any) -> str:
    try:
        return Purpose(int(value)).name
    except ValueError:
        return f"purpose {value}"


def digest(value: Any) -> str:
    return "0x" + bytes(value).hex() if isinstance(value, (bytes, bytearray)) else str(value)


Args = Mapping[str, Any]
_SENTENCES: dict[str, Callable[[Args], str]] = {
    # -- roles, admin and pause (OpenZeppelin AccessControl, DefaultAdminRules, Pausable) -----
    "AccessControlUnauthorizedAccount": lambda a: f"{a['account']} lacks the {role(a['neededRole'])} role",
    "AccessControlBadConfirmation": lambda a: "an account can only renounce a role for itself",
    "AccessControlEnforcedDefaultAdminDelay": lambda a: (
        f"the admin change is not due yet: it can be accepted from {when(a['schedule'])}"
    ),
    "AccessControlEnforcedDefaultAdminRules": lambda a: (
        "the admin role changes only through the two-step, delayed admin transfer"
    ),
    "AccessControlInvalidDefaultAdmin": lambda a: f"{a['defaultAdmin']} is not a valid (pending) admin",
    "ConflictingDuties": lambda a: (
        f"{a['account']} cannot take the {role(a['role'])} role: it already holds the "
        f"{role(a['heldRole'])} role, and those duties are kept on separate accounts"
    ),
    "InvalidAdminDelay": lambda a: f"an admin transfer delay of {duration(a['delay'])} is not allowed",
    "EnforcedPause": lambda a: "the ledger is paused",
    "ExpectedPause": lambda a: "the ledger is not paused",
    "NotAuthorized": lambda a: f"{a['account']} is not allowed to do this",
    "ZeroAddress": lambda a: "the zero address is not a valid account here",
    # -- deployment parameters -------------------------------------------------------------
    "InvalidEmergencyCooldown": lambda a: f"a break-glass cool-down of {duration(a['cooldown'])} is not allowed",
    "InvalidEmergencyKinds": lambda a: f"the provider kinds allowed to break glass (mask {a['kinds']}) are not valid",
    "InvalidEmergencyWindow": lambda a: f"a break-glass window of {duration(a['window'])} is not allowed",
    "EmptyEmergencyCategories": lambda a: "break-glass needs at least one category",
    "InvalidMaxConsentDuration": lambda a: "the maximum consent duration must be more than zero",
    "InvalidMaxGuardianTerm": lambda a: "the maximum guardian term must be more than zero",
    # -- providers and keys ----------------------------------------------------------------
    "InvalidProviderKind": lambda a: f"{kind(a['kind'])} is not a provider kind",
    "ProviderAlreadyRegistered": lambda a: f"the provider {a['provider']} is already registered",
    "ProviderIsWithdrawn": lambda a: f"the provider {a['provider']} has been withdrawn for good",
    "ProviderKindNotAllowed": lambda a: f"the provider {a['provider']}, a {kind(a['kind'])}, may not do this",
    "ProviderKindUnchanged": lambda a: f"the provider {a['provider']} is already a {kind(a['kind'])}",
    "ProviderNotActive": lambda a: f"the provider {a['provider']} is not active (suspended, withdrawn or unknown)",
    "ProviderNotSuspended": lambda a: f"the provider {a['provider']} is not suspended",
    "UnknownProvider": lambda a: f"{a['provider']} is not a registered provider",
    "InvalidPublicKey": lambda a: "the encryption key is not a valid 32-byte X25519 public key",
    # -- device streams (StreamAnchors) ------------------------------------------------------
    "DeviceAlreadyRegistered": lambda a: f"the device {a['device']} is already registered",
    "UnknownDevice": lambda a: f"{a['device']} is not a registered device",
    "DeviceIsRetired": lambda a: f"the device {a['device']} has been retired",
    "NotDeviceProvider": lambda a: f"{a['account']} is not the provider the device {a['device']} belongs to",
    "GatewayAlreadyAuthorized": lambda a: f"the gateway {a['gateway']} is already authorised",
    "UnknownGateway": lambda a: f"{a['gateway']} is not an authorised gateway",
    "NotGatewayProvider": lambda a: f"{a['account']} is not the provider the gateway {a['gateway']} belongs to",
    "ProviderInactive": lambda a: f"the provider {a['provider']} is not active (suspended, withdrawn or unknown)",
    "LedgerPaused": lambda a: "the ledger is paused",
    "EmptyBatch": lambda a: "the batch holds no windows",
    "InvalidWindow": lambda a: f"window {a['index']} of the batch is malformed (times, count or root)",
    "WindowOverlaps": lambda a: (
        f"the window starting {when(a['windowStart'])} overlaps the stream's last window, which ends "
        f"{when(a['lastEnd'])}"
    ),
    "UnknownWindow": lambda a: f"no window {digest(a['windowId'])} is anchored",
    # -- consent ---------------------------------------------------------------------------
    "EmptyCategories": lambda a: "a consent needs at least one category",
    "InvalidCategory": lambda a: f"{a['category']} is not a valid category",
    "InvalidPurpose": lambda a: f"{purpose(a['purpose'])} is not a valid purpose of use",
    "InvalidPurposes": lambda a: f"the purposes (mask {a['purposes']}) are empty or not valid purposes of use",
    "InvalidPermission": lambda a: f"permission {a['permission']} is not read or write",
    "InvalidPermissions": lambda a: f"the permissions (mask {a['permissions']}) are empty or not read/write",
    "ExpiryNotInFuture": lambda a: (
        f"the expiry {when(a['expiry'])} is not in the future (chain time is {when(a['currentTime'])})"
    ),
    "ExpiryTooFar": lambda a: (
        f"the expiry {when(a['expiry'])} is too far out: the latest allowed is {when(a['limit'])}"
    ),
    "NoConsent": lambda a: f"the patient {a['patient']} has no consent in force for {a['grantee']}",
    "SelfGrant": lambda a: "an account cannot grant consent to itself",
    # -- signed consent ----------------------------------------------------------------------
    "InvalidNonce": lambda a: (
        f"the signature's nonce {a['given']} is not the current one ({a['expected']}): "
        "it was used, cancelled or signed out of order"
    ),
    "InvalidSignature": lambda a: f"the signature does not match: it recovers to {a['signer']}",
    "SignatureExpired": lambda a: f"the signature expired at {when(a['deadline'])}",
    "SignatureLifetimeTooLong": lambda a: (
        f"the signature is valid for too long (issued {when(a['issuedAt'])}, deadline {when(a['deadline'])})"
    ),
    "SignatureNotYetValid": lambda a: f"the signature is not valid before {when(a['issuedAt'])}",
    # -- guardians ---------------------------------------------------------------------------
    "ConsentOutlastsGuardian": lambda a: (
        f"the consent would last until {when(a['expiry'])}, beyond the guardianship, "
        f"which ends {when(a['guardianUntil'])}"
    ),
    "GuardianLoop": lambda a: f"{a['guardian']} cannot be a guardian of {a['patient']}: that would form a loop",
    "GuardianSelfGrant": lambda a: f"the guardian {a['guardian']} may not grant consent to itself",
    "GuardianTermInPast": lambda a: f"the guardianship would end {when(a['until'])}, which is not in the future",
    "GuardianTermTooLong": lambda a: (
        f"the guardianship would end {when(a['until'])}, later than allowed ({when(a['limit'])})"
    ),
    "MayNotAppoint": lambda a: f"{a['account']} may not appoint a guardian for this patient",
    "NotGuardian": lambda a: f"{a['account']} is not a guardian of the patient {a['patient']}",
    "RemovedByPatient": lambda a: (
        f"the patient {a['patient']} removed the guardian {a['guardian']}: only the patient may appoint it again"
    ),
    # -- break-glass -------------------------------------------------------------------------
    "EmergencyAccessAlreadyOpen": lambda a: (
        f"break-glass for {a['provider']} on the patient {a['patient']} is already open until {when(a['until'])}"
    ),
    "EmergencyCooldown": lambda a: (
        f"break-glass for {a['provider']} on the patient {a['patient']} was closed: it can be opened "
        f"again from {when(a['cooldownUntil'])}"
    ),
    "EmergencyOptOut": lambda a: f"the patient {a['patient']} has opted out of break-glass",
    "InvalidReason": lambda a: f"{a['reason']} is not a valid break-glass reason",
    "NoEmergencyAccess": lambda a: f"{a['provider']} has no open break-glass access to the patient {a['patient']}",
    # -- records -----------------------------------------------------------------------------
    "CategoryMismatch": lambda a: (
        f"an amendment must keep the record's category ({category_name(a['expected'])}), "
        f"not {category_name(a['actual'])}"
    ),
    "InvalidDigest": lambda a: "the record's content digest is empty",
    "MayNotAmend": lambda a: (
        f"{a['account']} may not amend the record {digest(a['digest'])}: only the patient or its author may"
    ),
    "RecordAlreadySuperseded": lambda a: f"the record {digest(a['digest'])} has already been amended",
    "RecordExists": lambda a: f"the patient {a['patient']} already has the record {digest(a['digest'])}",
    "RecordIsErased": lambda a: f"the record {digest(a['digest'])} has been erased",
    "UnknownRecord": lambda a: f"the patient {a['patient']} has no record {digest(a['digest'])}",
    "UnsupportedCodec": lambda a: f"the content codec {a['codec']:#x} is not supported",
    # -- key-release services ----------------------------------------------------------------
    "DuplicateServiceKey": lambda a: f"the service {a['service']}'s encryption key appears twice in the set",
    "DuplicateServiceMember": lambda a: f"the service {a['service']} appears twice in the set",
    "InvalidServiceCount": lambda a: f"a service set of {a['members']} members is not allowed",
    "InvalidServiceEndpoint": lambda a: f"a service endpoint of {a['length']} bytes is empty or too long",
    "InvalidThreshold": lambda a: f"a threshold of {a['threshold']} is not valid for {a['members']} services",
    "NotAServiceMember": lambda a: f"{a['account']} is not a member of any key-release service set",
    "ServiceKeysMismatch": lambda a: f"{a['members']} services were given {a['encryptionKeys']} encryption keys",
    "ServiceMemberHoldsRole": lambda a: (
        f"the service {a['service']} holds the {role(a['role'])} role: services must be separate accounts"
    ),
    "ServiceMemberIsProvider": lambda a: f"the service {a['service']} is a registered provider: it cannot be a service",
    "ServiceMemberMayNotBeProvider": lambda a: f"{a['account']} serves key release, so it cannot be a provider",
    "ServiceMemberMayNotHoldRole": lambda a: (
        f"{a['account']} serves key release, so it cannot take the {role(a['role'])} role"
    ),
    "ServiceSetAlreadyActive": lambda a: (
        f"the service set version {a['version']} became active at {when(a['activatesAt'])}: "
        "it can no longer be cancelled"
    ),
    "ServiceSetAlreadyCancelled": lambda a: f"the service set version {a['version']} was already cancelled",
    "UnknownServiceSet": lambda a: f"there is no service set version {a['version']}",
    "ZeroServiceKey": lambda a: f"the service {a['service']} was given an empty encryption key",
    # -- claims ------------------------------------------------------------------------------
    "AlreadyPended": lambda a: f"the claim {digest(a['claimId'])} was already pended once",
    "AppealNotOpen": lambda a: (
        f"the claim {digest(a['claimId'])} cannot be appealed now (not decided, its appeal window closed, "
        "or already appealed)"
    ),
    "BelowPaid": lambda a: f"an appeal decision of {a['approved']} units is below the {a['paid']} units already paid",
    "ClaimExists": lambda a: f"the claim {digest(a['claimId'])} exists: this encounter is already claimed",
    "CoverageExists": lambda a: f"the coverage {digest(a['coverageId'])} is already registered",
    "DeadlinePassed": lambda a: f"the deadline of the claim {digest(a['claimId'])} passed at {when(a['due'])}",
    "DenialWithoutReason": lambda a: "a denial needs a reason code (--reason, e.g. 50)",
    "DocumentNotRecorded": lambda a: (
        f"{digest(a['digest'])} is not a record of the patient {a['patient']} authored by {a['author']}"
    ),
    "InsufficientEscrow": lambda a: (
        f"the insurer {a['insurer']} holds {a['available']} units of {a['token']} in escrow; {a['needed']} are needed"
    ),
    "InsurerCannotRead": lambda a: (
        f"the patient {a['patient']} has not let the insurer {a['insurer']} read "
        f"{category_name(int(a['category']))} records for payment (HPAYMT)"
    ),
    "InvalidAmounts": lambda a: (
        f"approved {a['approved']} plus patient share {a['patientShare']} exceed the billed {a['billed']} units"
    ),
    "InvalidCoveragePeriod": lambda a: (
        f"a coverage period from {when(a['start'])} to {when(a['end'])} is empty, already over, or not allowed"
    ),
    "InvalidDeadline": lambda a: "every claims deadline (timely filing, adjudication, appeal) must be positive",
    "NotABillingProvider": lambda a: f"{a['account']} is not a clinician or organisation: only they submit claims",
    "NotAToken": lambda a: f"there is no token contract at {a['token']}",
    "NotAnInsurer": lambda a: f"{a['account']} is not a registered insurer",
    "NotAppellant": lambda a: (
        f"{a['account']} is neither the patient nor the provider of the claim {digest(a['claimId'])}"
    ),
    "NotClaimInsurer": lambda a: f"{a['account']} is not the insurer of the claim {digest(a['claimId'])}",
    "NotClaimProvider": lambda a: f"{a['account']} is not the provider of the claim {digest(a['claimId'])}",
    "NotCoverageInsurer": lambda a: f"{a['account']} is not the insurer of the coverage {digest(a['coverageId'])}",
    "NotPayer": lambda a: f"{a['account']} is neither the insurer nor the provider of the claim {digest(a['claimId'])}",
    "NothingToWithdraw": lambda a: f"{a['account']} has nothing to withdraw in {a['token']}",
    "SelfCoverage": lambda a: "an insurer cannot cover itself",
    "ServiceInFuture": lambda a: f"the service date {when(a['serviceDate'])} is in the future",
    "ServiceOutsideCoverage": lambda a: (
        f"the service date {when(a['serviceDate'])} is outside the coverage {digest(a['coverageId'])}"
    ),
    "TimelyFilingExpired": lambda a: (
        f"timely filing for a service on {when(a['serviceDate'])} ended at {when(a['deadline'])}"
    ),
    "UnknownClaim": lambda a: f"there is no claim {digest(a['claimId'])}",
    "UnknownCoverage": lambda a: f"there is no coverage {digest(a['coverageId'])}",
    "WrongStatus": lambda a: (
        f"the claim {digest(a['claimId'])} is {_CLAIM_STATUS.get(int(a['status']), a['status'])}: not allowed now"
    ),
    "ZeroAmount": lambda a: "the amount must be more than zero",
    "ZeroDigest": lambda a: "a document digest (or encounter) of all zeros is not allowed",
    "ReentrancyGuardReentrantCall": lambda a: "a re-entrant call was refused",
    "SafeERC20FailedOperation": lambda a: f"the token {a['token']} refused the transfer",
    # -- ERC-20 settlement tokens (OpenZeppelin ERC20, SettlementToken) ------------------------
    "ERC20InsufficientAllowance": lambda a: (
        f"{a['spender']} may spend only {a['allowance']} units of {a['needed']} needed: approve more first"
    ),
    "ERC20InsufficientBalance": lambda a: f"{a['sender']} holds {a['balance']} token units; {a['needed']} are needed",
    "ERC20InvalidApprover": lambda a: f"{a['approver']} cannot approve spending",
    "ERC20InvalidReceiver": lambda a: f"{a['receiver']} cannot receive tokens",
    "ERC20InvalidSender": lambda a: f"{a['sender']} cannot send tokens",
    "ERC20InvalidSpender": lambda a: f"{a['spender']} cannot be approved to spend",
    "NotMinter": lambda a: f"{a['caller']} is not this token's minter (its deployer)",
    # -- studies ------------------------------------------------------------------------------
    "AlreadyEnrolled": lambda a: f"{a['patient']} has already enrolled in study {a['studyId']} (once per study)",
    "ConsentDoesNotCoverStudy": lambda a: (
        f"{a['patient']}'s consent to the researcher does not cover study {a['studyId']}: it needs research "
        "(HRESCH), READ, every category of the study, until the study ends"
    ),
    "EnrolmentClosed": lambda a: f"enrolment in study {a['studyId']} closed at {when(a['enrolmentEnd'])}",
    "InvalidLedger": lambda a: f"{a['ledger']} is not a MedLedger contract",
    "InvalidTerms": lambda a: f"the study's {_TERMS.get(str(a['field']), str(a['field']))} is not valid",
    "NoReadAccess": lambda a: (
        f"the researcher may not read {a['patient']}'s record {digest(a['digest'])} for research now "
        f"(consent revoked or expired, or the researcher suspended)"
    ),
    "NoStudyRecords": lambda a: "an enrolment names at least one de-identified record published for the study",
    "NotEnrolled": lambda a: f"{a['patient']} is not enrolled in study {a['studyId']} (never, or withdrawn)",
    "NotRegistrar": lambda a: f"{a['account']} is not a registrar of the ledger",
    "NotResearcher": lambda a: f"{a['account']} is not an active researcher on the ledger",
    "NotStudyRecord": lambda a: (
        f"record {digest(a['digest'])} is not one of {a['patient']}'s records for study {a['studyId']}"
    ),
    "NotStudyResearcher": lambda a: f"{a['account']} is not the researcher of study {a['studyId']}",
    "NothingToClaim": lambda a: (
        f"{a['patient']} has no reward to claim in study {a['studyId']}: it is earned when the researcher first "
        "reads their study data, and paid once"
    ),
    "ProviderMayNotEnrol": lambda a: f"{a['account']} is a registered provider: providers may not enrol in studies",
    "RecordNotEligible": lambda a: (
        f"record {digest(a['digest'])} of {a['patient']} does not count for the study: it must be a live record "
        "of the study's categories, published after the study was registered, named once"
    ),
    "StudyEnded": lambda a: f"study {a['studyId']} ended at {when(a['end'])}",
    "StudyFull": lambda a: f"study {a['studyId']} is full ({a['maxParticipants']} places)",
    "StudyNotEnded": lambda a: f"study {a['studyId']} runs until {when(a['end'])}",
    "StudyNotOpen": lambda a: f"study {a['studyId']} is {_STUDY_STATUS.get(int(a['status']), a['status'])}",
    "StudyNotSuspended": lambda a: f"study {a['studyId']} is not suspended",
    "TooManyRecords": lambda a: f"an enrolment names at most {a['limit']} records, not {a['count']}",
    "UnknownStudy": lambda a: f"there is no study {a['studyId']}",
    "UnsupportedToken": lambda a: (
        f"the token {a['token']} delivered {a['received']} of {a['expected']} units (fee on transfer?): "
        "it cannot hold an escrow"
    ),
    "InvalidAccountNonce": lambda a: (
        f"the signed message for {a['account']} was already used or is stale (the next nonce is {a['currentNonce']})"
    ),
    "InvalidShortString": lambda a: "a contract name is not a valid short string",
    "StringTooLong": lambda a: f"the text {a['str']!r} is too long",
    # -- OpenZeppelin utilities --------------------------------------------------------------
    "AddressEmptyCode": lambda a: f"there is no contract at {a['target']}",
    "FailedCall": lambda a: "an internal call failed",
    "SafeCastOverflowedUintDowncast": lambda a: f"the value {a['value']} does not fit in {a['bits']} bits",
    # -- Solidity's own ---------------------------------------------------------------------
    "Error": lambda a: f"the contract refused: {a['reason']}",
}


def has_sentence(error: str) -> bool:
    return error in _SENTENCES


def refusal_sentence(error: str, arguments: Args) -> str | None:
    """The sentence for a decoded custom error, or None when it has none (or its arguments differ)."""
    render = _SENTENCES.get(error)
    if render is None:
        return None
    try:
        return render(arguments)
    except (KeyError, TypeError, ValueError):  # an ABI changed under us: fall back to the decoded form
        return None


__all__ = ["has_sentence", "refusal_sentence", "role", "when"]
