// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title Guardians of medledger
/// @notice A patient appoints guardians (a parent, a carer) who may manage consent and read on
/// the patient's behalf, optionally until a date (a minor's majority). Guardianship is one level
/// deep: a guardian's own guardians gain nothing over the ward.
interface IGuardians is IMedLedgerErrors {
    /// @dev One slot per (patient, guardian). `nonce` orders signed guardian messages.
    struct Guardian {
        bool active;
        bool canAppoint;
        uint40 until;
        uint64 nonce;
    }

    /// @notice `envelope` carries the patient's keyring secrets sealed to the guardian.
    event GuardianAppointed(address indexed patient, address indexed guardian, uint40 until, bool canAppoint,
        address indexed appointedBy, bytes envelope);
    event GuardianRemoved(address indexed patient, address indexed guardian, address indexed removedBy);

    error GuardianLoop(address patient, address guardian);
    error NotGuardian(address patient, address account);
    error MayNotAppoint(address account);
    error GuardianTermInPast(uint40 until);
    error GuardianTermTooLong(uint40 until, uint40 limit);

    /// @notice Appoints `guardian` for `patient` until `until` (0: no end). Callable by the patient,
    /// or by a guardian allowed to appoint, who can neither grant that right on, nor outlast itself,
    /// nor rewrite a guardianship already in force.
    function appointGuardian(address patient, address guardian, uint40 until, bool canAppoint, bytes calldata envelope)
        external;

    /// @notice Ends a guardianship. Callable by the patient, the guardian itself, or a guardian
    /// allowed to appoint (for guardians without that right).
    function removeGuardian(address patient, address guardian) external;

    /// @notice The guardianship record of `guardian` for `patient`.
    function guardianOf(address patient, address guardian) external view returns (Guardian memory);

    /// @notice True while `account` is an active, unexpired guardian of `patient`.
    function isGuardian(address patient, address account) external view returns (bool);
}
