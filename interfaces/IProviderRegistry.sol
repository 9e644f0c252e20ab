// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title Provider registry of medledger
/// @notice Registrars credential providers (clinicians, organisations, researchers, insurers,
/// auditors). Only an active provider can hold a patient's consent; suspending one ends all of
/// its access at once (guardianships and break-glass included), without touching any patient's
/// consent. Withdrawal is suspension for good: a withdrawn account can never be reinstated or
/// registered again.
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
        Suspended,
        Withdrawn
    }

    /// @dev One storage slot per provider. `since`: when the credential last changed
    /// (registration, suspension, reinstatement, withdrawal, kind correction); `epoch` counts those
    /// changes (a break-glass window holds only under the epoch it was opened in).
    struct Provider {
        ProviderKind kind;
        ProviderStatus status;
        uint40 since;
        uint32 epoch;
    }

    event ProviderRegistered(address indexed provider, ProviderKind kind, address indexed registrar);
    event ProviderSuspended(address indexed provider, address indexed registrar);
    event ProviderReinstated(address indexed provider, address indexed registrar);
    event ProviderWithdrawn(address indexed provider, address indexed registrar);
    event ProviderKindSet(address indexed provider, ProviderKind kind, address indexed registrar);

    error InvalidProviderKind(uint8 kind);
    error ProviderAlreadyRegistered(address provider);
    error UnknownProvider(address provider);
    error ProviderNotActive(address provider);
    error ProviderNotSuspended(address provider);
    error ProviderIsWithdrawn(address provider);
    error ProviderKindUnchanged(address provider, uint8 kind);
    error ServiceMemberMayNotBeProvider(address account);

    /// @notice Credentials `provider` as a provider of `kind`. Registrar only; not while paused;
    /// never a member of a key-release service set that is proposed or active (not cancelled).
    function registerProvider(address provider, ProviderKind kind) external;

    /// @notice Suspends an active provider: every consent it holds stops working at once.
    function suspendProvider(address provider) external;

    /// @notice Reinstates a suspended provider; consents that have not expired work again
    /// (break-glass windows opened before the suspension do not).
    function reinstateProvider(address provider) external;

    /// @notice Withdraws a provider's credential for good: it can never be reinstated or
    /// registered again. Registrar only; works while paused.
    function withdrawProvider(address provider) external;

    /// @notice Corrects the kind of a registered, not withdrawn provider. Registrar only.
    function setProviderKind(address provider, ProviderKind kind) external;

    /// @notice The registry entry of `account` (kind `None` if unregistered).
    function providerOf(address account) external view returns (Provider memory);

    /// @notice True when `account` is a registered provider that is not suspended.
    function isActiveProvider(address account) external view returns (bool);
}
