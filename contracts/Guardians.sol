// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IGuardians} from "../interfaces/IGuardians.sol";
import {ProviderStore} from "./ProviderStore.sol";

// slither-disable-start timestamp
// Guardianship terms are days-scale rules; a validator's ~15 s drift is irrelevant.
/// @title Guardians module
/// @notice Reads provider status (a suspended or withdrawn provider loses its guardian powers).
abstract contract Guardians is ProviderStore, IGuardians {
    /// @inheritdoc IGuardians
    uint40 public immutable maxGuardianTerm;

    mapping(address patient => mapping(address guardian => Guardian)) private _guardians;

    /// @param guardianTerm the longest guardianship, in seconds (non-zero).
    constructor(uint40 guardianTerm) {
        if (guardianTerm == 0) revert InvalidMaxGuardianTerm();
        maxGuardianTerm = guardianTerm;
    }

    /// @inheritdoc IGuardians
    function appointGuardian(address patient, address guardian, uint40 until, bool canAppoint) external {
        if (msg.sender != patient) {
            Guardian storage appointer = _guardians[patient][msg.sender];
            // A guardian may appoint only plain guardians, and none that outlasts itself.
            if (!_isGuardian(patient, msg.sender) || !appointer.canAppoint || canAppoint) {
                revert MayNotAppoint(msg.sender);
            }
            if (until > appointer.until) revert GuardianTermTooLong(until, appointer.until);
            // Nor may it rewrite (shorten, downgrade) a guardianship that is already in force,
            if (_isGuardian(patient, guardian)) revert MayNotAppoint(msg.sender);
            // nor overrule the patient's removal of a guardian.
            if (_guardians[patient][guardian].removedByPatient) revert RemovedByPatient(patient, guardian);
        }
        _appointGuardian(msg.sender, patient, guardian, until, canAppoint);
    }

    /// @inheritdoc IGuardians
    function removeGuardian(address patient, address guardian) external {
        if (msg.sender != patient && msg.sender != guardian) {
            // An appointing guardian removes plain guardians only, never a peer the patient trusted alike.
            if (
                !_isGuardian(patient, msg.sender) || !_guardians[patient][msg.sender].canAppoint
                    || _guardians[patient][guardian].canAppoint
            ) {
                revert MayNotAppoint(msg.sender);
            }
        }
        _removeGuardian(msg.sender, patient, guardian);
    }

    /// @inheritdoc IGuardians
    function guardianOf(address patient, address guardian) external view returns (Guardian memory) {
        return _guardians[patient][guardian];
    }

    /// @inheritdoc IGuardians
    function isGuardian(address patient, address account) external view returns (bool) {
        return _isGuardian(patient, account);
    }

    /// @dev `appointedBy` is who authorised the appointment (for a relayed signature: the patient,
    /// never the relayer), as the event reports it.
    function _appointGuardian(address appointedBy, address patient, address guardian, uint40 until, bool canAppoint)
        internal
    {
        if (patient == address(0) || guardian == address(0)) revert ZeroAddress();
        // Guardianship is not transitive, so only a direct two-way loop could lock a patient out.
        if (guardian == patient || _isGuardian(guardian, patient)) revert GuardianLoop(patient, guardian);
        if (until <= block.timestamp) revert GuardianTermInPast(until);
        if (until - block.timestamp > maxGuardianTerm) {
            revert GuardianTermTooLong(until, uint40(block.timestamp + maxGuardianTerm));
        }
        Guardian storage entry = _guardians[patient][guardian];
        // A fresh appointment starts a new term, so guardians appointed in an earlier term stay ended.
        if (!_isCurrent(entry)) entry.term += 1;
        entry.active = true;
        entry.canAppoint = canAppoint;
        entry.until = until;
        entry.nonce += 1;
        if (appointedBy == patient) {
            entry.removedByPatient = false;
            if (entry.appointerTerm != 0) {
                entry.appointerTerm = 0;
                entry.appointer = address(0);
            }
        } else {
            entry.appointer = appointedBy;
            entry.appointerTerm = _guardians[patient][appointedBy].term;
        }
        emit GuardianAppointed(patient, guardian, until, canAppoint, appointedBy);
    }

    /// @dev `removedBy` is who authorised the removal (for a relayed signature: the patient).
    function _removeGuardian(address removedBy, address patient, address guardian) internal {
        Guardian storage entry = _guardians[patient][guardian];
        if (!entry.active) revert NotGuardian(patient, guardian);
        entry.active = false;
        entry.canAppoint = false;
        entry.until = 0;
        entry.nonce += 1;
        if (removedBy == patient) entry.removedByPatient = true;
        emit GuardianRemoved(patient, guardian, removedBy);
    }

    function _guardianNonce(address patient, address guardian) internal view returns (uint64) {
        return _guardians[patient][guardian].nonce;
    }

    /// @dev Makes every signed guardian message for the pair stale; the guardianship is unchanged.
    function _bumpGuardianNonce(address patient, address guardian) internal returns (uint64) {
        return ++_guardians[patient][guardian].nonce;
    }

    /// @dev The end of `account`'s guardianship of `patient` (meaningful while it is a guardian).
    function _guardianUntil(address patient, address account) internal view returns (uint40) {
        return _guardians[patient][account].until;
    }

    /// @dev Reverts unless the caller is `patient` or one of its guardians.
    function _requirePatientOrGuardian(address patient) internal view {
        if (msg.sender != patient && !_isGuardian(patient, msg.sender)) revert NotGuardian(patient, msg.sender);
    }

    function _isGuardian(address patient, address account) internal view returns (bool) {
        Guardian storage entry = _guardians[patient][account];
        if (!_isCurrent(entry) || _isInactiveProvider(account)) return false;
        // `appointerTerm` is zero for the patient's appointments (an appointer's term is at least 1).
        if (entry.appointerTerm == 0) return true;
        // Appointees cannot appoint, so this looks one level up at most.
        address appointer = entry.appointer;
        Guardian storage appointerEntry = _guardians[patient][appointer];
        return
            appointerEntry.term == entry.appointerTerm && _isCurrent(appointerEntry) && !_isInactiveProvider(appointer);
    }

    function _isCurrent(Guardian storage entry) private view returns (bool) {
        return entry.active && entry.until > block.timestamp;
    }
}
// slither-disable-end timestamp
