// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title Roles and circuit breaker of medledger
/// @notice Duties are held by separate accounts, enforced on chain: the admin (DEFAULT_ADMIN_ROLE,
/// transferred in two delayed steps), registrars and pausers never share an account, and no
/// member of a key-release service set holds any of them or is a provider. A pauser can stop
/// break-glass, provider registration and reinstatement, and access logging (so key releases,
/// which follow a logged access); safety actions (suspension, withdrawal, closing a break-glass
/// window, revocation, cancellation) keep working while paused.
interface IRoles is IMedLedgerErrors {
    error ConflictingDuties(address account, bytes32 role, bytes32 heldRole);
    error ServiceMemberMayNotHoldRole(address account, bytes32 role);
    error InvalidAdminDelay(uint48 delay);

    /// @notice Stops the paused actions. Pauser only.
    function pause() external;

    /// @notice Resumes them. Pauser only.
    function unpause() external;
}
