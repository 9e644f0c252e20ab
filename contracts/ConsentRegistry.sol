// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IConsentRegistry} from "../interfaces/IConsentRegistry.sol";
import {EmergencyAccess} from "./EmergencyAccess.sol";
import {Guardians} from "./Guardians.sol";
import {Scopes} from "./Scopes.sol";

/// @title Consent module
/// @notice Consent is changed by the patient, by one of the patient's guardians (`...For`), or by
/// anyone relaying the patient's signature (SignedConsent); never by anyone else. The access rule
/// (`hasAccess`) combines consent, guardianship and break-glass, so it uses both those modules.
abstract contract ConsentRegistry is Guardians, EmergencyAccess, IConsentRegistry {
    /// @inheritdoc IConsentRegistry
    uint40 public immutable maxConsentDuration;

    mapping(address patient => mapping(address grantee => Consent)) private _consents;

    /// @param consentDuration the longest a consent may run from the moment it is granted (non-zero).
    constructor(uint40 consentDuration) {
        if (consentDuration == 0) revert InvalidMaxConsentDuration();
        maxConsentDuration = consentDuration;
    }

    /// @inheritdoc IConsentRegistry
    function grant(address grantee, uint64 categories, uint16 purposes, uint8 permissions, uint40 expiry) external {
        _grant(msg.sender, grantee, categories, purposes, permissions, expiry);
    }

    /// @inheritdoc IConsentRegistry
    function grantFor(
        address patient,
        address grantee,
        uint64 categories,
        uint16 purposes,
        uint8 permissions,
        uint40 expiry
    ) external {
        if (msg.sender != patient) {
            _requirePatientOrGuardian(patient);
            // A guardian's consents end with its guardianship, and never make the guardian a grantee.
            if (grantee == msg.sender) revert GuardianSelfGrant(msg.sender);
            uint40 guardianUntil = _guardianUntil(patient, msg.sender);
            if (expiry > guardianUntil) revert ConsentOutlastsGuardian(expiry, guardianUntil);
        }
        _grant(patient, grantee, categories, purposes, permissions, expiry);
    }

    /// @inheritdoc IConsentRegistry
    function revoke(address grantee) external {
        _revoke(msg.sender, grantee);
    }

    /// @inheritdoc IConsentRegistry
    function revokeFor(address patient, address grantee) external {
        _requirePatientOrGuardian(patient);
        _revoke(patient, grantee);
    }

    /// @inheritdoc IConsentRegistry
    function consentOf(address patient, address grantee) external view returns (Consent memory) {
        return _consents[patient][grantee];
    }

    /// @inheritdoc IConsentRegistry
    function hasAccess(address patient, address grantee, uint8 category, uint8 purpose, uint8 permission)
        external
        view
        returns (bool)
    {
        if (category >= Scopes.CATEGORY_COUNT) revert InvalidCategory(category);
        if (purpose >= Scopes.PURPOSE_COUNT) revert InvalidPurpose(purpose);
        if (permission != Scopes.READ && permission != Scopes.WRITE) revert InvalidPermission(permission);
        return _hasAccess(patient, grantee, category, uint16(1) << purpose, permission);
    }

    // slither-disable-start timestamp
    // Consent expiry is a days-scale rule; a validator's ~15 s drift is irrelevant.
    function _grant(
        address patient,
        address grantee,
        uint64 categories,
        uint16 purposes,
        uint8 permissions,
        uint40 expiry
    ) internal {
        if (grantee == address(0)) revert ZeroAddress();
        if (grantee == patient) revert SelfGrant();
        if (categories == 0) revert EmptyCategories();
        if (purposes == 0 || purposes & ~Scopes.ALL_PURPOSES != 0) revert InvalidPurposes(purposes);
        if (permissions == 0 || permissions & ~Scopes.ALL_PERMISSIONS != 0) revert InvalidPermissions(permissions);
        if (expiry <= block.timestamp) revert ExpiryNotInFuture(expiry, block.timestamp);
        if (expiry - block.timestamp > maxConsentDuration) {
            revert ExpiryTooFar(expiry, block.timestamp + maxConsentDuration);
        }
        _requireActiveProvider(grantee);
        uint64 nonce = _consents[patient][grantee].nonce + 1;
        _consents[patient][grantee] = Consent(categories, purposes, permissions, expiry, nonce);
        emit ConsentGranted(patient, grantee, categories, purposes, permissions, expiry);
    }
    // slither-disable-end timestamp

    function _revoke(address patient, address grantee) internal {
        Consent storage consent = _consents[patient][grantee];
        if (consent.categories == 0) revert NoConsent(patient, grantee);
        // Keep the nonce: a reset would let an old signed grant be replayed.
        _consents[patient][grantee] = Consent(0, 0, 0, 0, consent.nonce + 1);
        emit ConsentRevoked(patient, grantee);
    }

    function _consentNonce(address patient, address grantee) internal view returns (uint64) {
        return _consents[patient][grantee].nonce;
    }

    /// @dev Makes every signed consent message for the pair stale; the consent is unchanged.
    function _bumpConsentNonce(address patient, address grantee) internal returns (uint64) {
        return ++_consents[patient][grantee].nonce;
    }

    // slither-disable-start timestamp
    // Consent expiry is a days-scale rule; a validator's ~15 s drift is irrelevant.
    /// @dev `purposeMask` lets writes accept any purpose (purposes scope disclosure, not authorship).
    function _hasAccess(address patient, address grantee, uint8 category, uint16 purposeMask, uint8 permission)
        internal
        view
        returns (bool)
    {
        if (grantee == patient) return true;
        Consent memory consent = _consents[patient][grantee];
        if (
            consent.expiry > block.timestamp && (consent.categories >> category) & 1 == 1
                && consent.purposes & purposeMask != 0 && consent.permissions & permission == permission
                && _isActiveProvider(grantee)
        ) return true;
        if (permission != Scopes.READ) return false;
        if (_isGuardian(patient, grantee)) return true;
        return purposeMask & (uint16(1) << Scopes.PURPOSE_ETREAT) != 0 && _emergencyCovers(patient, grantee, category);
    }
    // slither-disable-end timestamp
}
