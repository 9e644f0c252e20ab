// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsentRegistry} from "../interfaces/IConsentRegistry.sol";
import {ProviderRegistry} from "./ProviderRegistry.sol";
import {Scopes} from "./Scopes.sol";

/// @title Consent module
/// @notice The caller is always the patient: nobody can grant or revoke on another's behalf.
abstract contract ConsentRegistry is ProviderRegistry, IConsentRegistry {
    mapping(address patient => mapping(address grantee => Consent)) private _consents;

    /// @inheritdoc IConsentRegistry
    function grant(
        address grantee,
        uint64 categories,
        uint16 purposes,
        uint8 permissions,
        uint40 expiry,
        bytes calldata envelope
    ) external {
        if (grantee == address(0)) revert ZeroAddress();
        if (grantee == msg.sender) revert SelfGrant();
        if (categories == 0) revert EmptyCategories();
        if (purposes == 0 || purposes & ~Scopes.ALL_PURPOSES != 0) revert InvalidPurposes(purposes);
        if (permissions == 0 || permissions & ~Scopes.ALL_PERMISSIONS != 0) revert InvalidPermissions(permissions);
        if (expiry <= block.timestamp) revert ExpiryNotInFuture(expiry, block.timestamp);
        _requireActiveProvider(grantee);
        _consents[msg.sender][grantee] = Consent(categories, purposes, permissions, expiry);
        emit ConsentGranted(msg.sender, grantee, categories, purposes, permissions, expiry, envelope);
    }

    /// @inheritdoc IConsentRegistry
    function revoke(address grantee) external {
        if (_consents[msg.sender][grantee].categories == 0) revert NoConsent(msg.sender, grantee);
        delete _consents[msg.sender][grantee];
        emit ConsentRevoked(msg.sender, grantee);
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

    /// @dev `purposeMask` lets writes accept any purpose (purposes scope disclosure, not authorship).
    function _hasAccess(address patient, address grantee, uint8 category, uint16 purposeMask, uint8 permission)
        internal
        view
        returns (bool)
    {
        if (grantee == patient) return true;
        Consent memory consent = _consents[patient][grantee];
        return consent.expiry > block.timestamp && (consent.categories >> category) & 1 == 1
            && consent.purposes & purposeMask != 0 && consent.permissions & permission == permission
            && isActiveProvider(grantee);
    }
}
