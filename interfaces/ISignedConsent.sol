// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title Signed (gasless) consent of medledger
/// @notice A patient signs Grant, Revoke, guardian and CancelNonces messages off line (EIP-712);
/// anyone may relay them and pay the gas. The domain binds chain id and contract; each message
/// carries the nonce of its (patient, counterparty) pair, when it was issued and a deadline, so it
/// works once, here, and only within its lifetime (issuedAt <= now <= deadline, deadline - issuedAt
/// <= MAX_SIGNATURE_LIFETIME). A patient who changed their mind cancels every unrelayed message
/// for a pair with `cancelNonces` (directly or signed). Contract-wallet patients sign with ERC-1271.
interface ISignedConsent is IMedLedgerErrors {
    /// @dev The signed message's nonce (the pair's current nonce), issue time and deadline.
    struct Validity {
        uint64 nonce;
        uint256 issuedAt;
        uint256 deadline;
    }

    /// @notice The consent nonce and the guardian nonce of (patient, counterparty) were bumped:
    /// every signed message for the pair issued before is void.
    event NoncesCancelled(
        address indexed patient, address indexed counterparty, uint64 consentNonce, uint64 guardianNonce
    );

    error SignatureExpired(uint256 deadline);
    error SignatureNotYetValid(uint256 issuedAt);
    error SignatureLifetimeTooLong(uint256 issuedAt, uint256 deadline);
    error InvalidNonce(uint64 expected, uint64 given);
    error InvalidSignature(address signer);

    /// @notice Relays the patient's signed Grant.
    function grantBySig(
        address patient,
        address grantee,
        uint64 categories,
        uint16 purposes,
        uint8 permissions,
        uint40 expiry,
        Validity calldata validity,
        bytes calldata signature
    ) external;

    /// @notice Relays the patient's signed Revoke.
    function revokeBySig(address patient, address grantee, Validity calldata validity, bytes calldata signature)
        external;

    /// @notice Relays the patient's signed AppointGuardian.
    function appointGuardianBySig(
        address patient,
        address guardian,
        uint40 until,
        bool canAppoint,
        Validity calldata validity,
        bytes calldata signature
    ) external;

    /// @notice Relays the patient's signed RemoveGuardian.
    function removeGuardianBySig(
        address patient,
        address guardian,
        Validity calldata validity,
        bytes calldata signature
    ) external;

    /// @notice Voids every signed message the caller issued for (caller, `counterparty`) and has
    /// not been relayed yet, by bumping the pair's consent and guardian nonces. Works while paused.
    function cancelNonces(address counterparty) external;

    /// @notice Relays the patient's signed CancelNonces; the message binds the pair's current
    /// nonces, so it works once.
    function cancelNoncesBySig(
        address patient,
        address counterparty,
        uint256 issuedAt,
        uint256 deadline,
        bytes calldata signature
    ) external;

    // DOMAIN_SEPARATOR is the name EIP-2612 and wallets expect.
    /// @notice The EIP-712 domain separator (chain id and this contract).
    // slither-disable-next-line naming-convention
    function DOMAIN_SEPARATOR() external view returns (bytes32);
}
