// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title Signed (gasless) consent of medledger
/// @notice A patient signs Grant, Revoke and guardian messages off line (EIP-712); anyone may
/// relay them and pay the gas. The domain binds chain id and contract; each message carries the
/// nonce of its (patient, counterparty) pair and a deadline, so it works once, here, in time.
/// Contract-wallet patients sign with ERC-1271.
interface ISignedConsent is IMedLedgerErrors {
    error SignatureExpired(uint256 deadline);
    error DeadlineTooFar(uint256 deadline, uint256 limit);
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
        bytes calldata envelope,
        uint64 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Relays the patient's signed Revoke.
    function revokeBySig(address patient, address grantee, uint64 nonce, uint256 deadline, bytes calldata signature)
        external;

    /// @notice Relays the patient's signed AppointGuardian.
    function appointGuardianBySig(
        address patient,
        address guardian,
        uint40 until,
        bool canAppoint,
        bytes calldata envelope,
        uint64 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Relays the patient's signed RemoveGuardian.
    function removeGuardianBySig(address patient, address guardian, uint64 nonce, uint256 deadline,
        bytes calldata signature) external;

    /// @notice The EIP-712 domain separator (chain id and this contract).
    function DOMAIN_SEPARATOR() external view returns (bytes32);
}
