// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title Provider registry of medledger
/// @notice Registrars credential providers (clinicians, organisations, researchers, insurers,
/// auditors). Only an active provider can hold a patient's consent; suspending one ends all of
/// its access at once, without touching any patient's consent.
interface IProviderRegistry is IMedLedgerErrors {
    /// @dev `None` marks an unregistered account and is never a valid kind to register.
    enum ProviderKind {
        None,
        Clinician,
        Organization,
        Researcher,
        Insurer,
        Auditor
    }

    /// @dev `None` marks an unregistered account.
    enum ProviderStatus {
        None,
        Active,
        Suspended
    }

    /// @dev One storage slot per provider.
    struct Provider {
        ProviderKind kind;
        ProviderStatus status;
        uint40 since;
    }

    event ProviderRegistered(address indexed provider, ProviderKind kind, address indexed registrar);
    event ProviderSuspended(address indexed provider, address indexed registrar);
    event ProviderReinstated(address indexed provider, address indexed registrar);

    error InvalidProviderKind(uint8 kind);
    error ProviderAlreadyRegistered(address provider);
    error UnknownProvider(address provider);
    error ProviderNotActive(address provider);
    error ProviderNotSuspended(address provider);

    /// @notice Credentials `provider` as a provider of `kind`. Registrar only.
    function registerProvider(address provider, ProviderKind kind) external;

    /// @notice Suspends an active provider: every consent it holds stops working at once.
    function suspendProvider(address provider) external;

    /// @notice Reinstates a suspended provider; consents that have not expired work again.
    function reinstateProvider(address provider) external;

    /// @notice The registry entry of `account` (kind `None` if unregistered).
    function providerOf(address account) external view returns (Provider memory);

    /// @notice True when `account` is a registered provider that is not suspended.
    function isActiveProvider(address account) external view returns (bool);
}
