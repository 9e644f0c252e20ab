// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title Consent registry of medledger
/// @notice A patient grants a provider access scoped by record categories, purposes of use
/// (HL7 PurposeOfUse), permissions and an expiry, all in one storage slot per pair.
interface IConsentRegistry is IMedLedgerErrors {
    /// @dev Bit i of `categories` is record category i; bit p of `purposes` is purpose p
    /// (0 TREAT, 1 ETREAT, 2 HPAYMT, 3 HOPERAT, 4 HRESCH, 5 PUBHLTH, 6 PATRQT);
    /// `permissions` is READ (1) | WRITE (2); access ends when block.timestamp reaches `expiry`.
    /// `nonce` counts every change to the pair and is never reset, so a signed message for the
    /// pair works at most once and only until the pair next changes.
    struct Consent {
        uint64 categories;
        uint16 purposes;
        uint8 permissions;
        uint40 expiry;
        uint64 nonce;
    }

    /// @notice A grant carries no key material: readers obtain record keys from the key-release
    /// services, which check this consent at every read.
    event ConsentGranted(
        address indexed patient,
        address indexed grantee,
        uint64 categories,
        uint16 purposes,
        uint8 permissions,
        uint40 expiry
    );
    event ConsentRevoked(address indexed patient, address indexed grantee);

    error SelfGrant();
    error EmptyCategories();
    error InvalidPurposes(uint16 purposes);
    error InvalidPermissions(uint8 permissions);
    error ExpiryNotInFuture(uint40 expiry, uint256 currentTime);
    error NoConsent(address patient, address grantee);
    error InvalidPurpose(uint8 purpose);
    error InvalidPermission(uint8 permission);
    error ExpiryTooFar(uint40 expiry, uint256 limit);
    error GuardianSelfGrant(address guardian);
    error ConsentOutlastsGuardian(uint40 expiry, uint40 guardianUntil);
    error InvalidMaxConsentDuration();

    /// @notice Grants (or replaces the grant of) `grantee`, an active provider, access to the
    /// caller's records. A re-grant replaces scope and expiry entirely. The expiry is at most
    /// `maxConsentDuration` from now.
    function grant(address grantee, uint64 categories, uint16 purposes, uint8 permissions, uint40 expiry) external;

    /// @notice Ends the consent the caller gave `grantee`.
    function revoke(address grantee) external;

    /// @notice `grant` on behalf of `patient`, by one of the patient's guardians: never to the
    /// guardian itself, and ending no later than the guardianship.
    function grantFor(
        address patient,
        address grantee,
        uint64 categories,
        uint16 purposes,
        uint8 permissions,
        uint40 expiry
    ) external;

    /// @notice `revoke` on behalf of `patient`, by one of the patient's guardians.
    function revokeFor(address patient, address grantee) external;

    /// @notice The longest a consent may run, in seconds from its grant.
    function maxConsentDuration() external view returns (uint40);

    /// @notice The consent `patient` gave `grantee` (all zero when none).
    function consentOf(address patient, address grantee) external view returns (Consent memory);

    /// @notice Whether `grantee` may use `permission` on `patient`'s records of `category` for
    /// `purpose` now. A patient always has access to their own records; anyone else needs an
    /// unexpired consent covering all three and must be an active provider. A guardian (see
    /// `isGuardian`) may read; a provider with open break-glass access may read emergency categories for ETREAT.
    function hasAccess(address patient, address grantee, uint8 category, uint8 purpose, uint8 permission)
        external
        view
        returns (bool);
}
