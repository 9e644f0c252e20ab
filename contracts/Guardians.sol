// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IGuardians} from "../interfaces/IGuardians.sol";

/// @title Guardians module
abstract contract Guardians is IGuardians {
    /// @dev `until == NO_END` marks a guardianship without an end date.
    uint40 internal constant NO_END = 0;

    mapping(address patient => mapping(address guardian => Guardian)) private _guardians;

    /// @inheritdoc IGuardians
    function appointGuardian(address patient, address guardian, uint40 until, bool canAppoint, bytes calldata envelope)
        external
    {
        if (msg.sender != patient) {
            Guardian memory appointer = _guardians[patient][msg.sender];
            // A guardian may appoint only plain guardians, and none that outlasts itself.
            if (!_isActive(appointer) || !appointer.canAppoint || canAppoint) revert MayNotAppoint(msg.sender);
            if (appointer.until != NO_END && (until == NO_END || until > appointer.until)) {
                revert GuardianTermTooLong(until, appointer.until);
            }
            // Nor may it rewrite (shorten, downgrade) a guardianship that is already in force.
            if (isGuardian(patient, guardian)) revert MayNotAppoint(msg.sender);
        }
        _appointGuardian(msg.sender, patient, guardian, until, canAppoint, envelope);
    }

    /// @inheritdoc IGuardians
    function removeGuardian(address patient, address guardian) external {
        if (msg.sender != patient && msg.sender != guardian) {
            Guardian memory remover = _guardians[patient][msg.sender];
            // An appointing guardian removes plain guardians only, never a peer the patient trusted alike.
            if (!_isActive(remover) || !remover.canAppoint || _guardians[patient][guardian].canAppoint) {
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
    function isGuardian(address patient, address account) public view returns (bool) {
        return _isActive(_guardians[patient][account]);
    }

    /// @dev `appointedBy` is who authorised the appointment (for a relayed signature: the patient,
    /// never the relayer), as the event reports it.
    function _appointGuardian(
        address appointedBy,
        address patient,
        address guardian,
        uint40 until,
        bool canAppoint,
        bytes calldata envelope
    ) internal {
        if (patient == address(0) || guardian == address(0)) revert ZeroAddress();
        // Guardianship is not transitive, so only a direct two-way loop could lock a patient out.
        if (guardian == patient || isGuardian(guardian, patient)) revert GuardianLoop(patient, guardian);
        if (until != NO_END && until <= block.timestamp) revert GuardianTermInPast(until);
        Guardian storage entry = _guardians[patient][guardian];
        entry.active = true;
        entry.canAppoint = canAppoint;
        entry.until = until;
        entry.nonce += 1;
        emit GuardianAppointed(patient, guardian, until, canAppoint, appointedBy, envelope);
    }

    /// @dev `removedBy` is who authorised the removal (for a relayed signature: the patient).
    function _removeGuardian(address removedBy, address patient, address guardian) internal {
        Guardian storage entry = _guardians[patient][guardian];
        if (!entry.active) revert NotGuardian(patient, guardian);
        entry.active = false;
        entry.canAppoint = false;
        entry.until = NO_END;
        entry.nonce += 1;
        emit GuardianRemoved(patient, guardian, removedBy);
    }

    function _guardianNonce(address patient, address guardian) internal view returns (uint64) {
        return _guardians[patient][guardian].nonce;
    }

    /// @dev Reverts unless the caller is `patient` or one of its active guardians.
    function _requirePatientOrGuardian(address patient) internal view {
        if (msg.sender != patient && !isGuardian(patient, msg.sender)) revert NotGuardian(patient, msg.sender);
    }

    function _isActive(Guardian memory entry) private view returns (bool) {
        return entry.active && (entry.until == NO_END || entry.until > block.timestamp);
    }
}
