// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title Guardians of medledger
/// @notice A patient appoints guardians (a parent, a carer) who may manage consent and read on
/// the patient's behalf until a date (a minor's majority), for at most `maxGuardianTerm`.
/// Guardianship is one level deep: a guardian's own guardians gain nothing over the ward. A
/// guardian appointed by a guardian holds only while its appointer does (removing the appointer
/// ends it); a guardian the patient removed can be appointed again only by the patient. A
/// guardian that is a suspended or withdrawn provider has no guardian powers while it is so.
interface IGuardians is IMedLedgerErrors {
    /// @dev One slot per (patient, guardian), plus `appointer` for guardian-appointed guardians.
    /// `nonce` orders signed guardian messages; `term` counts fresh appointments, and
    /// `appointerTerm` is the appointer's term when it appointed this guardian.
    struct Guardian {
        bool active;
        bool canAppoint;
        bool removedByPatient;
        uint40 until;
        uint64 nonce;
        uint32 term;
        uint32 appointerTerm;
        address appointer;
    }

    /// @notice An appointment carries no key material: a guardian reads through the key-release
    /// services like any other reader, and only while its guardianship holds.
    event GuardianAppointed(
        address indexed patient, address indexed guardian, uint40 until, bool canAppoint, address indexed appointedBy
    );
    event GuardianRemoved(address indexed patient, address indexed guardian, address indexed removedBy);

    error GuardianLoop(address patient, address guardian);
    error NotGuardian(address patient, address account);
    error MayNotAppoint(address account);
    error GuardianTermInPast(uint40 until);
    error GuardianTermTooLong(uint40 until, uint40 limit);
    error RemovedByPatient(address patient, address guardian);
    error InvalidMaxGuardianTerm();

    /// @notice Appoints `guardian` for `patient` until `until` (now < until <= now + maxGuardianTerm).
    /// Callable by the patient, or by a guardian allowed to appoint, who can neither grant that
    /// right on, nor outlast itself, nor rewrite a guardianship already in force, nor bring back a
    /// guardian the patient removed.
    function appointGuardian(address patient, address guardian, uint40 until, bool canAppoint) external;

    /// @notice Ends a guardianship. Callable by the patient, the guardian itself, or a guardian
    /// allowed to appoint (for guardians without that right).
    function removeGuardian(address patient, address guardian) external;

    /// @notice The guardianship record of `guardian` for `patient`.
    function guardianOf(address patient, address guardian) external view returns (Guardian memory);

    /// @notice True while `account` is an active, unexpired guardian of `patient`, not a suspended
    /// or withdrawn provider, and (if a guardian appointed it) its appointer still is one too.
    function isGuardian(address patient, address account) external view returns (bool);

    /// @notice The longest guardianship that may be appointed, in seconds.
    function maxGuardianTerm() external view returns (uint40);
}
